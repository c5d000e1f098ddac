"""### Retrain (daily)

For every site with inverters: reads the 15-min rollups before the data-interval end, backtests
every candidate model (`HELIOS_FORECAST_MODELS`) with rolling origins, registers each in `models`
with its artefact, and promotes the backtest winner only if it beats the current champion. A site
without enough history yet is skipped, not failed. Re-running a day re-registers the same model
versions. Sites run in batches of `HELIOS_FLEET_BATCH_SIZE`, one mapped task per batch (at most
`HELIOS_FLEET_MAX_ACTIVE_TIS` at once, pool `HELIOS_FLEET_DB_POOL`). A failing site is reported
and alerted (`retrain_site_failed`) and does not fail the fleet: a batch task fails only when every
one of its sites failed (`heliosgrid.orchestration.sitebatch`).

**SLA**: all sites retrained by 06:00 UTC. **When it alerts**: see docs/operations.md, section
*Airflow DAGs*; sizing: section *Fleet sizing*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs, site_batch_task_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_retrain", schedule=CronDataIntervalTimetable("40 2 * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["forecast", "training"], dagrun_timeout=timedelta(hours=3),
                  execution_timeout=timedelta(hours=2), retry_delay=timedelta(minutes=5)))
def heliosgrid_retrain() -> None:
    @task
    def batches(**context: object) -> list[list[str]]:
        from heliosgrid.orchestration.tasks import site_batches_task

        return site_batches_task(context, "retrain")

    @task(**site_batch_task_kwargs())
    def retrain(site_ids: list[str], **context: object) -> dict:
        from heliosgrid.orchestration.tasks import retrain_batch_task

        return retrain_batch_task(site_ids, context)

    @task(multiple_outputs=False)
    def report(summaries: list[dict]) -> dict:
        from heliosgrid.orchestration.tasks import fleet_report_task

        return fleet_report_task("retrain", summaries)

    report(retrain.expand(site_ids=batches()))


heliosgrid_retrain()
