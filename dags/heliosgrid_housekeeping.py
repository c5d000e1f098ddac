"""### Housekeeping (hourly)

Plain PostgreSQL: refreshes the `readings_15m`/`1h`/`1d` rollups incrementally and applies the
retention policies (`heliosgrid retention show`), measured from the data-interval end.
TimescaleDB: the policies run as background jobs; this DAG reports their status
(`timescaledb_information.job_stats`) and raises a `pipeline` alert `timescaledb_job_failed`
per failed job, resolved after its next successful run.

**SLA**: finishes within 30 minutes. **When it alerts**: see docs/operations.md, section
*Airflow DAGs*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_housekeeping", schedule=CronDataIntervalTimetable("20 * * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["storage", "housekeeping"], dagrun_timeout=timedelta(minutes=30),
                  execution_timeout=timedelta(minutes=25)))
def heliosgrid_housekeeping() -> None:
    @task(multiple_outputs=False)
    def housekeeping(**context: object) -> dict:
        from heliosgrid.orchestration.tasks import housekeeping_task

        return housekeeping_task(context)

    housekeeping()


heliosgrid_housekeeping()
