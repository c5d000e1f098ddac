"""### Forecast (hourly)

Issues every site's champion P10/P50/P90 AC-power forecast (15-min steps, `HELIOS_FORECAST_HORIZON_H`)
at the data-interval end (`issued_at`, floored to 15 min) into `forecasts`, then scores the
rolling skill of the stored forecasts against smart persistence (`check_drift`): skill below
`HELIOS_FORECAST_DRIFT_SKILL_THRESHOLD` opens a `forecast_drift` alert. Re-running an hour
rewrites the same forecast rows.

**SLA**: forecasts for hour H are in the database by H:40. **When it alerts**: see
docs/operations.md, section *Airflow DAGs*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_forecast", schedule=CronDataIntervalTimetable("10 * * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["forecast"], dagrun_timeout=timedelta(minutes=30),
                  execution_timeout=timedelta(minutes=25)))
def heliosgrid_forecast() -> None:
    @task(multiple_outputs=False)
    def forecast_and_drift(**context: object) -> dict:
        from heliosgrid.orchestration.tasks import forecast_task

        return forecast_task(context)

    forecast_and_drift()


heliosgrid_forecast()
