"""### Retrain (daily)

For every site with inverters (one mapped task per site): reads the 15-min rollups before the
data-interval end, backtests every candidate model (`HELIOS_FORECAST_MODELS`) with rolling
origins, registers each in `models` with its artefact, and promotes the backtest winner to
champion only if it beats the current champion. A site without enough history yet is skipped,
not failed. Re-running a day re-registers the same model versions.

**SLA**: all sites retrained by 06:00 UTC. **When it alerts**: see docs/operations.md, section
*Airflow DAGs*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_retrain", schedule=CronDataIntervalTimetable("40 2 * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["forecast", "training"], dagrun_timeout=timedelta(hours=3),
                  execution_timeout=timedelta(hours=2), retry_delay=timedelta(minutes=5)))
def heliosgrid_retrain() -> None:
    @task
    def sites(**context: object) -> list[str]:
        from heliosgrid.orchestration.tasks import sites_with_inverters

        return sites_with_inverters(context)

    @task(max_active_tis_per_dag=1, multiple_outputs=False)
    def retrain(site_id: str, **context: object) -> dict:
        from heliosgrid.orchestration.tasks import retrain_task

        return retrain_task(site_id, context)

    retrain.expand(site_id=sites())


heliosgrid_retrain()
