"""The bodies of the DAG tasks: each takes the Airflow task context, opens one database
connection (:mod:`heliosgrid.orchestration.db`), calls the library, and returns a small
JSON-serialisable summary (stored as the task's XCom and shown in the Airflow UI).

Every function derives its window / ``as_of`` / ``issued_at`` from the run's data interval
(:func:`heliosgrid.orchestration.dagkit.data_interval`), never from the wall clock, so a re-run
of the same interval writes the same rows.
"""

from __future__ import annotations

import logging
from typing import Any

from heliosgrid.orchestration.dagkit import data_interval
from heliosgrid.orchestration.db import task_connection
from heliosgrid.settings import get_settings

log = logging.getLogger(__name__)


def quality_task(context: Any) -> dict[str, Any]:
    """Run every data-quality and freshness check over the run's data interval.

    Failing checks become quality alerts; the task itself succeeds (it only fails when the
    checks cannot run, e.g. the database is unreachable).
    """
    from heliosgrid.quality import run_quality

    start, end = data_interval(context)
    settings = get_settings()
    with task_connection(settings) as conn:
        report = run_quality(conn, settings, start, end, run_id=str(context.get("run_id") or ""))
    summary = report.summary()
    log.info("quality %s", {k: v for k, v in summary.items() if k != "failures"})
    return summary


def stream_supervision_task(context: Any) -> dict[str, Any]:
    """Heartbeats, consumer lag and local restarts at the data-interval end (see
    :mod:`heliosgrid.orchestration.supervision`)."""
    from heliosgrid.orchestration.supervision import supervise_stream

    _, end = data_interval(context)
    settings = get_settings()
    with task_connection(settings) as conn:
        report = supervise_stream(conn, settings, end)
    return report.summary()


def housekeeping_task(context: Any) -> dict[str, Any]:
    """Rollup refresh + retention (PostgreSQL) or policy-job status (TimescaleDB) at the interval end."""
    from heliosgrid.orchestration.housekeeping import run_housekeeping

    _, end = data_interval(context)
    with task_connection() as conn:
        return run_housekeeping(conn, end)
