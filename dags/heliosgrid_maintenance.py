"""### Maintenance (hourly)

Runs the fault detectors of `heliosgrid.maintenance` (inverter trip, string outage, soiling,
stuck sensor, irradiance drift, overheating, communication gap, clipping) over the data interval
and updates `maintenance` alerts with energy and revenue lost; alerts whose fault is no longer
seen resolve themselves. Re-running an hour updates the
same alerts in place.

**SLA**: finishes within 20 minutes of the hour. **When it alerts**: see docs/operations.md,
section *Airflow DAGs*.
"""

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from heliosgrid.orchestration.dagkit import dag_kwargs


@dag(**dag_kwargs(dag_id="heliosgrid_maintenance", schedule=CronDataIntervalTimetable("5 * * * *", timezone="UTC"),
                  doc_md=__doc__, tags=["maintenance"], dagrun_timeout=timedelta(minutes=20),
                  execution_timeout=timedelta(minutes=15)))
def heliosgrid_maintenance() -> None:
    @task(multiple_outputs=False)
    def detect_faults(**context: object) -> dict:
        from heliosgrid.orchestration.tasks import maintenance_task

        return maintenance_task(context)

    detect_faults()


heliosgrid_maintenance()
