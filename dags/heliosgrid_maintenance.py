"""### Maintenance (hourly)

Runs the fault detectors of `heliosgrid.maintenance` (inverter trip, string outage, soiling, stuck
sensor, irradiance drift, overheating, communication gap, clipping) over the data interval and
updates `maintenance` alerts with energy and revenue lost; alerts whose fault is no longer seen
resolve themselves. Re-running an hour updates the same alerts in place.
Sites run in batches of `HELIOS_FLEET_BATCH_SIZE`, one mapped task per batch (at most
`HELIOS_FLEET_MAX_ACTIVE_TIS` at once, pool `HELIOS_FLEET_DB_POOL`). A failing site is reported
and alerted (`maintenance_site_failed`) and does not fail the fleet: a batch task fails only when every
one of its sites failed (`heliosgrid.orchestration.sitebatch`).

**SLA**: finishes within 20 minutes of the hour. **When it alerts**: see docs/operations.md,
section *Airflow DAGs*; sizing: section *Fleet sizing*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs, site_batch_task_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_maintenance", schedule=CronDataIntervalTimetable("5 * * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["maintenance"], dagrun_timeout=timedelta(minutes=20),
                  execution_timeout=timedelta(minutes=15)))
def heliosgrid_maintenance() -> None:
    @task
    def batches(**context: object) -> list[list[str]]:
        from heliosgrid.orchestration.tasks import site_batches_task

        return site_batches_task(context, "maintenance")

    @task(**site_batch_task_kwargs())
    def detect_faults(site_ids: list[str], **context: object) -> dict:
        from heliosgrid.orchestration.tasks import maintenance_batch_task

        return maintenance_batch_task(site_ids, context)

    @task(multiple_outputs=False)
    def report(summaries: list[dict]) -> dict:
        from heliosgrid.orchestration.tasks import fleet_report_task

        return fleet_report_task("maintenance", summaries)

    report(detect_faults.expand(site_ids=batches()))


heliosgrid_maintenance()
