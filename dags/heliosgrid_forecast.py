"""### Forecast (hourly)

Issues every site's champion P10/P50/P90 AC-power forecast (15-min steps, `HELIOS_FORECAST_HORIZON_H`)
at the data-interval end (`issued_at`, floored to 15 min) into `forecasts`, then scores the rolling
skill against smart persistence: skill below `HELIOS_FORECAST_DRIFT_SKILL_THRESHOLD` opens a
`forecast_drift` alert. A site without a champion is trained first. Re-running an hour rewrites
the same rows. Sites run in batches of `HELIOS_FLEET_BATCH_SIZE`, one mapped task per batch (at most
`HELIOS_FLEET_MAX_ACTIVE_TIS` at once, pool `HELIOS_FLEET_DB_POOL`). A failing site is reported
and alerted (`forecast_site_failed`) and does not fail the fleet: a batch task fails only when every
one of its sites failed (`heliosgrid.orchestration.sitebatch`).

**SLA**: forecasts for hour H are in the database by H:40. **When it alerts**: see
docs/operations.md, section *Airflow DAGs*; sizing: section *Fleet sizing*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs, site_batch_task_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_forecast", schedule=CronDataIntervalTimetable("10 * * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["forecast"], dagrun_timeout=timedelta(minutes=30),
                  execution_timeout=timedelta(minutes=25)))
def heliosgrid_forecast() -> None:
    @task
    def batches(**context: object) -> list[list[str]]:
        from heliosgrid.orchestration.tasks import site_batches_task

        return site_batches_task(context, "forecast")

    @task(**site_batch_task_kwargs())
    def forecast(site_ids: list[str], **context: object) -> dict:
        from heliosgrid.orchestration.tasks import forecast_batch_task

        return forecast_batch_task(site_ids, context)

    @task(multiple_outputs=False)
    def report(summaries: list[dict]) -> dict:
        from heliosgrid.orchestration.tasks import fleet_report_task

        return fleet_report_task("forecast", summaries)

    report(forecast.expand(site_ids=batches()))


heliosgrid_forecast()
