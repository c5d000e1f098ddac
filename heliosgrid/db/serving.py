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

On TimescaleDB ``site_rollup_15m`` and ``fleet_rollup_15m`` serve materialised rows only (migration
0150, ADR 0290): :func:`refresh_serving_tail` materialises their newest buckets (partial ones too),
which the consumer runs after writes as it refreshes the rollup tables on plain PostgreSQL.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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

TAIL_AGGREGATES: Final[tuple[str, ...]] = ("site_rollup_15m", "fleet_rollup_15m")
"""TimescaleDB aggregates that serve materialised rows only (0150): their newest buckets are refreshed
by :func:`refresh_serving_tail` instead of being computed per query by real-time aggregation."""

TAIL_LOOKBACK: Final[timedelta] = timedelta(hours=1)
"""Window before now that :func:`refresh_serving_tail` recomputes whole. It must cover the buckets
``readings_15m`` has not materialised yet (its policy: end offset 15 min, every 5 min, so 15-20 min
normally); older buckets get their late rows through the invalidations of that materialisation."""

TAIL_AHEAD: Final[timedelta] = timedelta(minutes=30)
"""How far past the start of the current 15-min bucket :func:`refresh_serving_tail` reaches: the
current bucket plus one for logger clocks slightly ahead. An explicit end, because with NULL
TimescaleDB ends a hierarchical aggregate's refresh at completed buckets (the current one is left out)."""


def refresh_serving_tail(conn: psycopg.Connection, now: datetime | None = None) -> float:
    """Materialise the newest 15-min site and fleet buckets on TimescaleDB; returns seconds spent.

    Recomputes [``now`` - :data:`TAIL_LOOKBACK`, ``now`` + :data:`TAIL_AHEAD`) (whole 15-min buckets) of
    :data:`TAIL_AGGREGATES` from the device aggregate (whose real-time part holds the raw rows it has
    not materialised), partial buckets included. ``force``: those buckets are recomputed whole even
    when already materialised, because raw rows written since then are not yet in any invalidation
    log the site aggregate reads. Cost: the window's device buckets (about 5 per inverter), tens of
    ms. Plain PostgreSQL: nothing to do (``helios_refresh_rollups()`` refreshes the tables), returns
    0. ``conn`` must be in autocommit mode.
    """
    from heliosgrid.db.rollups import _floor, backend_of

    if backend_of(conn) != "timescaledb":
        return 0.0
    started = time.perf_counter()
    width = timedelta(minutes=15)
    at = now or datetime.now(UTC)
    window = (_floor(at - TAIL_LOOKBACK, width), _floor(at, width) + TAIL_AHEAD)
    for relation in TAIL_AGGREGATES:
        conn.execute("CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz, force => true)",
                     (relation, *window))
    return time.perf_counter() - started


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
