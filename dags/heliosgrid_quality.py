"""### Data quality and freshness (every 15 minutes)

For each 15-minute data interval, checks every device of every site: freshness (newest reading
vs `HELIOS_FRESHNESS_SLA_S`), completeness per 15-min bucket, range/physical plausibility,
irradiance limits (pvanalytics QCRad / clear-sky), stale and interpolated values, outliers
(Hampel) and AC power vs POA irradiance. One `dq_results` row per check, device and interval;
failures open `quality` alerts that resolve themselves when the check passes again.
A second task checks the data contracts (`contracts/*.yaml`, `heliosgrid.contracts`); a violated
contract opens a `contract_violation` alert.

**SLA**: finishes within 12 minutes of the interval end. **When it alerts**: see
docs/operations.md, section *Airflow DAGs*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_quality", schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["quality", "freshness"], dagrun_timeout=timedelta(minutes=12),
                  execution_timeout=timedelta(minutes=10)))
def heliosgrid_quality() -> None:
    @task(multiple_outputs=False)
    def quality_checks(**context: object) -> dict:
        from heliosgrid.orchestration.tasks import quality_task

        return quality_task(context)

    @task(multiple_outputs=False)
    def contract_checks(**context: object) -> dict:
        from heliosgrid.orchestration.tasks import contracts_task

        return contracts_task(context)

    quality_checks() >> contract_checks()  # the quality contract judges the dq_results just written


heliosgrid_quality()
