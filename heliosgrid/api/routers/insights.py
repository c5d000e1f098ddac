"""``/v1/insights``: what the dashboard's Performance and Data quality views show.

Both endpoints read only the ``bi`` serving layer (materialised KPI days, alerts, data-quality
pass counts per hour, freshness), so they answer in milliseconds over a year of data whatever the fleet size
(``heliosgrid bench bi`` times these exact statements). The SQL constants are shared with the
benchmark; they take ``as_of`` (timestamptz) and a window.

* ``GET /v1/insights/performance?days=30``: fleet PR, availability and specific yield per
  site-local day, the same per site, and lost energy/revenue by fault type (top 10);
* ``GET /v1/insights/quality?hours=24``: per-site freshness, and pass rates per check and per site
  over the last 24 whole UTC hours (the current hour so far included).

Units: energy kWh, yield kWh/kWp, ratios 0..1, ages in seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from heliosgrid.api.formats import jsonable
from heliosgrid.api.routers.common import PREFIX, Conn, Reader

router = APIRouter(prefix=f"{PREFIX}/insights", tags=["insights"])

PERFORMANCE_DAILY_SQL = """
SELECT day,
       sum(energy_kwh) AS energy_kwh,
       sum(energy_kwh) / nullif(sum(reference_energy_kwh), 0) AS performance_ratio,
       sum(producing_buckets)::double precision / nullif(sum(daylight_buckets), 0) AS availability,
       sum(energy_kwh) / nullif(sum(dc_capacity_kw), 0) AS specific_yield_kwh_kwp,
       sum(lost_energy_kwh) AS lost_energy_kwh
FROM bi.site_kpi_daily
WHERE day > (%(as_of)s::timestamptz)::date - %(days)s::integer AND day <= (%(as_of)s::timestamptz)::date
GROUP BY day ORDER BY day"""

PERFORMANCE_SITES_SQL = """
SELECT s.site_id, s.site_name,
       sum(k.energy_kwh) AS energy_kwh,
       sum(k.energy_kwh) / nullif(sum(k.reference_energy_kwh), 0) AS performance_ratio,
       sum(k.producing_buckets)::double precision / nullif(sum(k.daylight_buckets), 0) AS availability,
       sum(k.energy_kwh) / nullif(max(s.dc_capacity_kw), 0) AS specific_yield_kwh_kwp,
       sum(k.lost_energy_kwh) AS lost_energy_kwh,
       sum(k.revenue_lost) AS revenue_lost
FROM bi.site s
JOIN bi.site_kpi_daily k ON k.site_id = s.site_id
WHERE k.day > (%(as_of)s::timestamptz)::date - %(days)s::integer AND k.day <= (%(as_of)s::timestamptz)::date
GROUP BY s.site_id, s.site_name ORDER BY s.site_id"""

LOST_BY_CAUSE_SQL = """
SELECT fault_type, count(*) AS alerts, sum(energy_lost_kwh) AS energy_lost_kwh, sum(revenue_lost) AS revenue_lost
FROM bi.alert
WHERE started_at > %(as_of)s::timestamptz - make_interval(days => %(days)s::integer)
  AND started_at <= %(as_of)s::timestamptz
GROUP BY fault_type ORDER BY sum(energy_lost_kwh) DESC, fault_type LIMIT 10"""

FRESHNESS_SQL = """
SELECT f.site_id, f.last_reading_ts, f.last_ingested_at,
       extract(epoch FROM %(as_of)s::timestamptz - f.last_reading_ts)::double precision AS age_s
FROM bi.site_freshness f ORDER BY f.site_id"""


def _pass_rates_sql(group_column: str, hourly_view: str) -> str:
    """Results stored (``runs``) and pass rate (0–1) of the data-quality checks per
    ``group_column``, over the last ``hours`` whole UTC hours: the hour that holds ``as_of`` (what
    has been checked in it so far) and the ``hours`` − 1 before it.

    Whole hours so that the answer comes from the hourly counters kept on write (``hourly_view``,
    migration 0180) alone: the rows read are checks (or sites) × hours, whatever the devices,
    windows and results per hour (ADR 0410).
    """
    return f"""
SELECT {group_column}, sum(runs)::bigint AS runs, sum(passed_runs)::double precision / sum(runs) AS pass_rate
FROM {hourly_view}
WHERE hour > date_trunc('hour', %(as_of)s::timestamptz, 'UTC') - make_interval(hours => %(hours)s::integer)
  AND hour <= date_trunc('hour', %(as_of)s::timestamptz, 'UTC')
GROUP BY {group_column} HAVING sum(runs) > 0 ORDER BY {group_column}"""


CHECK_PASS_RATES_SQL = _pass_rates_sql("check_name", "bi.dq_check_hourly")
SITE_PASS_RATES_SQL = _pass_rates_sql("site_id", "bi.dq_site_hourly")


def _rows(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = conn.execute(query, params)  # type: ignore[arg-type]
    names = [c.name for c in cur.description or []]
    return [{n: jsonable(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _report(conn: psycopg.Connection, window: dict[str, int], queries: dict[str, str]) -> JSONResponse:
    """``window`` (e.g. ``{"days": 30}``) and the rows of each named query, all run with the
    window and ``as_of`` = now."""
    params = {"as_of": datetime.now(UTC), **window}
    return JSONResponse({**window, **{name: _rows(conn, query, params) for name, query in queries.items()}})


@router.get("/performance", summary="Daily and per-site PR, availability, specific yield; lost energy by cause")
def performance(conn: Conn, _: Reader, days: Annotated[int, Query(ge=1, le=366)] = 30) -> JSONResponse:
    queries = {"daily": PERFORMANCE_DAILY_SQL, "sites": PERFORMANCE_SITES_SQL, "lost_by_cause": LOST_BY_CAUSE_SQL}
    return _report(conn, {"days": days}, queries)


@router.get("/quality", summary="Per-site data freshness and data-quality check pass rates")
def quality(conn: Conn, _: Reader, hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24) -> JSONResponse:
    queries = {"freshness": FRESHNESS_SQL, "checks": CHECK_PASS_RATES_SQL, "sites": SITE_PASS_RATES_SQL}
    return _report(conn, {"hours": hours}, queries)


DASHBOARD_QUERIES: dict[str, str] = {
    "dashboard_performance_daily": PERFORMANCE_DAILY_SQL,
    "dashboard_performance_sites": PERFORMANCE_SITES_SQL,
    "dashboard_lost_by_cause": LOST_BY_CAUSE_SQL,
    "dashboard_freshness": FRESHNESS_SQL,
    "dashboard_check_pass_rates": CHECK_PASS_RATES_SQL,
    "dashboard_site_pass_rates": SITE_PASS_RATES_SQL,
}
"""Every statement the two dashboard views send, by name (the benchmark runs them all)."""
