"""Defaults every HeliosGrid DAG shares, the failure/success callbacks, and data-interval access.

Import-light on purpose (standard library only at module level): DAG files import it at parse
time, and parsing must not touch the database or the network.

* :func:`default_args` — owner, retries with exponential backoff, per-task timeout and the
  failure callback.
* :func:`dag_kwargs` — ``catchup=False``, ``max_active_runs=1``, ``dagrun_timeout``, tags, owner
  links and the DAG-level callbacks; pass to ``@dag(**dag_kwargs(...))``.
* :func:`on_failure` writes a ``pipeline`` alert (site ``_pipeline``, device = DAG id,
  fault type ``dag_failed``); :func:`on_success` resolves it when a later run of the DAG
  succeeds.
* :func:`site_batch_task_kwargs` — pool and ``max_active_tis_per_dag`` of the mapped site-batch
  tasks (from the settings; the one parse-time import of ``heliosgrid.settings``).
* :func:`data_interval` — the run's ``[data_interval_start, data_interval_end)`` from the task
  context: every write of a DAG is keyed by it so that re-running an interval rewrites the same
  rows.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

OWNER = "heliosgrid-ops"
PIPELINE_SITE_ID = "_pipeline"
"""``alerts.site_id`` of fleet-wide pipeline alerts (DAG failures, stream supervision)."""
DAG_FAILED = "dag_failed"


def default_args(*, retries: int = 2, retry_delay: timedelta = timedelta(seconds=30),
                 execution_timeout: timedelta = timedelta(minutes=10)) -> dict[str, Any]:
    """Task defaults: retries with exponential backoff (capped at 10 min) and a hard timeout."""
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": execution_timeout,
        "on_failure_callback": on_failure,
    }


def dag_kwargs(*, dag_id: str, schedule: Any, doc_md: str | None, tags: list[str],
               dagrun_timeout: timedelta, start_date: datetime | None = None, **task_defaults: Any) -> dict[str, Any]:
    """Keyword arguments for ``@dag`` with the HeliosGrid defaults (see module docstring)."""
    return {
        "dag_id": dag_id,
        "schedule": schedule,
        "start_date": start_date or datetime(2020, 1, 1, tzinfo=UTC),  # before any data; catchup is off
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": dagrun_timeout,
        "doc_md": doc_md,
        "tags": ["heliosgrid", *tags],
        "default_args": default_args(**task_defaults),
        "on_failure_callback": on_failure,
        "on_success_callback": on_success,
    }


def site_batch_task_kwargs() -> dict[str, Any]:
    """``@task`` arguments of the mapped site-batch tasks: the database pool and how many batches
    of one DAG run at once (``HELIOS_FLEET_DB_POOL``, ``HELIOS_FLEET_MAX_ACTIVE_TIS``).

    Reads the settings at DAG parse time (environment and ``.env`` only, no database).
    """
    from heliosgrid.settings import get_settings

    settings = get_settings()
    return {"pool": settings.fleet_db_pool, "max_active_tis_per_dag": settings.fleet_max_active_tis,
            "multiple_outputs": False}


def data_interval(context: Any) -> tuple[datetime, datetime]:
    """``(data_interval_start, data_interval_end)`` of the running DAG run, tz-aware UTC.

    Falls back to the logical date (or now) for a manual run without an interval, so the
    window is never empty: ``[end - 1 µs, end)`` is widened by the callers that need a length.
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is None or end is None:
        dag_run = context.get("dag_run")
        start = getattr(dag_run, "data_interval_start", None) or start
        end = getattr(dag_run, "data_interval_end", None) or end
    if end is None:
        end = context.get("logical_date") or datetime.now(UTC)
    if start is None or start >= end:
        start = end - timedelta(microseconds=1)
    return _utc(start), _utc(end)


def _utc(value: datetime) -> datetime:
    """A plain ``datetime`` in UTC (Airflow hands out pendulum datetimes)."""
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _describe(context: Any) -> tuple[str, dict[str, Any], datetime]:
    dag_run = context.get("dag_run")
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", "unknown")
    _, end = data_interval(context)
    exc = context.get("exception")
    evidence = {
        "dag_id": dag_id,
        "run_id": getattr(dag_run, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
        "exception": None if exc is None else f"{type(exc).__name__}: {exc}"[:2000],
        "data_interval_end": end.isoformat(),
    }
    return str(dag_id), evidence, end


def on_failure(context: Any) -> None:
    """Task/DAG failure callback: open or refresh the ``dag_failed`` pipeline alert of the DAG.

    The task-level call records the exception; the DAG-level call only writes when no alert is
    active yet (a run that failed without a failed task, e.g. on ``dagrun_timeout``).

    Never raises (a broken callback must not hide the original failure); problems are logged.
    """
    try:
        from heliosgrid.alerts import list_alerts, raise_alert
        from heliosgrid.orchestration.db import task_connection

        dag_id, evidence, observed_at = _describe(context)
        dag_level = "reason" in context or "exception" not in context
        what = "DAG run" if dag_level else f"task {evidence['task_id']}"
        with task_connection() as conn:
            if dag_level:
                # DAG-level callback: the task callback already wrote the alert with the exception;
                # only a failure without a failed task (e.g. dagrun_timeout) writes one here.
                evidence["reason"] = str(context.get("reason") or "")
                if list_alerts(conn, state="active", site_id=PIPELINE_SITE_ID, device_id=dag_id,
                               source="pipeline", fault_type=DAG_FAILED):
                    return
            raise_alert(
                conn, site_id=PIPELINE_SITE_ID, device_id=dag_id, source="pipeline", fault_type=DAG_FAILED,
                severity="warning", title=f"Airflow DAG {dag_id} failed ({what})",
                started_at=observed_at, last_seen_at=observed_at, evidence=evidence,
                recommended_action=f"Open the task log of {dag_id} in the Airflow UI; see docs/operations.md "
                "'Airflow DAGs' for this DAG. The alert resolves when a later run succeeds.",
            )
    except Exception as exc:  # pragma: no cover - logged, never raised
        log.error("failure callback could not write the pipeline alert: %s: %s", type(exc).__name__, exc)


def on_success(context: Any) -> None:
    """DAG success callback: record the run in ``pipeline_runs`` (:func:`record_success`) and resolve
    the DAG's active ``dag_failed`` alert, if any."""
    try:
        from heliosgrid.alerts import list_alerts, resolve
        from heliosgrid.orchestration.db import task_connection

        dag_id, evidence, interval_end = _describe(context)
        with task_connection() as conn:
            for alert in list_alerts(conn, state="active", site_id=PIPELINE_SITE_ID, device_id=dag_id,
                                     source="pipeline", fault_type=DAG_FAILED):
                resolve(conn, alert.alert_id, by="auto")
            record_success(conn, dag_id, interval_end, evidence.get("run_id"))
    except Exception as exc:  # pragma: no cover - logged, never raised
        log.error("success callback could not resolve the pipeline alert: %s: %s", type(exc).__name__, exc)


def record_success(conn: Any, dag_id: str, interval_end: datetime, run_id: str | None) -> None:
    """Upsert the DAG's first/latest successful run (data-interval end) into ``pipeline_runs``."""
    conn.execute(
        """INSERT INTO pipeline_runs (dag_id, first_success_at, last_success_at, last_run_id) VALUES (%s, %s, %s, %s)
           ON CONFLICT (dag_id) DO UPDATE SET
               first_success_at = LEAST(pipeline_runs.first_success_at, EXCLUDED.first_success_at),
               last_success_at = GREATEST(pipeline_runs.last_success_at, EXCLUDED.last_success_at),
               last_run_id = EXCLUDED.last_run_id""",
        (dag_id, interval_end, interval_end, run_id))


def dags_that_succeeded(conn: Any) -> set[str]:
    """DAG ids with at least one successful run recorded in ``pipeline_runs``."""
    return {str(r[0]) for r in conn.execute("SELECT dag_id FROM pipeline_runs").fetchall()}
