"""Refresh of the BI serving layer: site/fleet rollups, site-local KPI days (migrations 0070-0073)
and materialised forecast accuracy (0100-0101).

* plain PostgreSQL: ``helios_refresh_rollups()`` already refreshes them (device rollups, then the
  site/fleet rollups, KPI days and accuracy rows touched by the same invalidations), so nothing
  else is needed.
* TimescaleDB: the site/fleet continuous aggregates (``site_rollup_*``, ``fleet_rollup_*``) have
  refresh policies, the KPI days and forecast accuracy jobs (``helios_kpi_days_job``,
  ``helios_forecast_accuracy_job``, last 8 days); in production they run themselves.
  :func:`refresh_serving_layer` does the same work for an explicit window —
  late data older than the policy windows, PGlite (no background workers), tests and benchmarks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import psycopg

SERVING_AGGREGATES: Final[tuple[tuple[str, timedelta], ...]] = (
    ("site_rollup_15m", timedelta(minutes=15)),
    ("site_rollup_1h", timedelta(hours=1)),
    ("site_rollup_1d", timedelta(days=1)),
    ("fleet_rollup_15m", timedelta(minutes=15)),
    ("fleet_rollup_1h", timedelta(hours=1)),
    ("fleet_rollup_1d", timedelta(days=1)),
)
"""TimescaleDB continuous aggregates of the serving layer with their bucket width."""


def refresh_serving_layer(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """Refresh the TimescaleDB serving layer over [``start``, ``end``) (tz-aware); returns KPI site-days recomputed.

    Also recomputes the forecast-accuracy rows (``forecast_accuracy_15m``) of the window.

    Run after the device aggregates are refreshed over the same window (``refresh_rollups`` does
    both). Each aggregate's window is widened to whole buckets of its width. On plain PostgreSQL
    it only runs ``helios_refresh_site_rollups()`` (normally already done by the device refresh)
    and returns its count. ``conn`` must be in autocommit mode (TimescaleDB refuses
    ``refresh_continuous_aggregate`` inside a transaction).
    """
    from heliosgrid.db.rollups import RollupError, _ceil, _floor, backend_of

    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise RollupError(f"refresh window must be tz-aware and non-empty: [{start}, {end})")
    if backend_of(conn) != "timescaledb":
        row = conn.execute("SELECT helios_refresh_site_rollups()").fetchone()
        conn.execute("SELECT helios_refresh_forecast_accuracy()")
        return int(row[0]) if row else 0
    for relation, width in SERVING_AGGREGATES:
        conn.execute("CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz)",
                     (relation, _floor(start, width), _ceil(end, width)))
    conn.execute("SELECT helios_invalidate_kpi_days(%s, %s)", (start, end))
    row = conn.execute("SELECT helios_refresh_kpi_days()").fetchone()
    conn.execute("SELECT helios_refresh_forecast_accuracy(%s, %s)", (start, end))
    return int(row[0]) if row else 0
