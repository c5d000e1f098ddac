"""### Stream supervision (every 5 minutes)

Checks the producer and consumer heartbeats (`heartbeats` table, limit
`HELIOS_HEARTBEAT_MAX_AGE_S`) and the consumer-group lag on the readings topic (limit
`HELIOS_CONSUMER_LAG_MAX_MESSAGES`). On the local stack (`make up`) a stopped or crashed
producer/consumer is restarted through `heliosgrid.stack`; in compose/Kubernetes it is reported.
Findings are `pipeline` alerts (`heartbeat_stale`, `consumer_lag`, `broker_unreachable`) that
resolve themselves when healthy again.

**SLA**: each run is bounded to 4 minutes (task timeout 3 min). **When it alerts**: see
docs/operations.md, section *Airflow DAGs*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_stream_supervision",
                  schedule=CronDataIntervalTimetable("*/5 * * * *", timezone="UTC"), doc_md=__doc__,
                  tags=["stream", "supervision"], dagrun_timeout=timedelta(minutes=4),
                  execution_timeout=timedelta(minutes=3), retries=1, retry_delay=timedelta(seconds=15)))
def heliosgrid_stream_supervision() -> None:
    @task(multiple_outputs=False)
    def supervise(**context: object) -> dict:
        from heliosgrid.orchestration.tasks import stream_supervision_task

        return stream_supervision_task(context)

    supervise()


heliosgrid_stream_supervision()
