"""``/v1/kpis`` and ``/v1/overview``: daily site KPIs (energy kWh, PR, availability) and the
operator overview per site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from heliosgrid.api import models
from heliosgrid.api.formats import as_utc
from heliosgrid.api.routers.common import Range, Read, SiteQ, UtcDateTime, responses, router_for

KPIS_SQL = """SELECT site_id, day, inverters, dc_capacity_kw, energy_kwh, reference_energy_kwh, specific_yield_kwh_kwp,
                  performance_ratio, performance_ratio_temp_corr, availability, expected_energy_kwh, lost_energy_kwh, revenue
           FROM bi.site_kpi_daily
           WHERE day >= %s AND day <= %s AND (%s::text IS NULL OR site_id = %s)
           ORDER BY day, site_id"""

OVERVIEW_SQL = """
SELECT s.site_id, s.name, %(as_of)s::timestamptz AS as_of,
       cur.ac_kw AS current_ac_power_kw,
       p.expected_ac_power_kw,
       f.p10_kw AS forecast_p10_kw, f.p50_kw AS forecast_p50_kw, f.p90_kw AS forecast_p90_kw,
       k.energy_kwh AS energy_today_kwh,
       k.performance_ratio AS performance_ratio_today,
       k.availability AS availability_today,
       (SELECT count(*) FROM alerts a WHERE a.site_id = s.site_id AND a.state <> 'resolved')::int AS open_alerts,
       fr.last_ts AS last_reading_ts,
       extract(epoch FROM %(as_of)s::timestamptz - fr.last_ts)::double precision AS freshness_age_s
FROM sites s
LEFT JOIN LATERAL (
    SELECT sum(x.ac_power_kw) AS ac_kw FROM (
        SELECT DISTINCT ON (r.device_id) r.ac_power_kw
        FROM readings r JOIN devices d ON d.device_id = r.device_id AND d.kind = 'inverter'
        WHERE r.site_id = s.site_id AND r.ts > %(as_of)s::timestamptz - INTERVAL '15 minutes'
          AND r.ts <= %(as_of)s::timestamptz
        ORDER BY r.device_id, r.ts DESC) x
) cur ON TRUE
LEFT JOIN LATERAL (
    SELECT b.expected_ac_power_kw FROM bi.site_power_15m b
    WHERE b.site_id = s.site_id AND b.bucket <= %(as_of)s::timestamptz
      AND b.bucket > %(as_of)s::timestamptz - INTERVAL '30 minutes'
    ORDER BY b.bucket DESC LIMIT 1
) p ON TRUE
LEFT JOIN LATERAL (
    SELECT fc.p10_kw, fc.p50_kw, fc.p90_kw FROM forecasts fc
    WHERE fc.site_id = s.site_id AND fc.target_ts = time_bucket(INTERVAL '15 minutes', %(as_of)s::timestamptz)
      AND fc.issued_at <= %(as_of)s::timestamptz
    ORDER BY fc.issued_at DESC, fc.model_version LIMIT 1
) f ON TRUE
LEFT JOIN bi.site_kpi_daily k
       ON k.site_id = s.site_id AND k.day = (%(as_of)s::timestamptz AT TIME ZONE s.timezone)::date
LEFT JOIN LATERAL (
    SELECT max(r.ts) AS last_ts FROM readings r WHERE r.site_id = s.site_id AND r.ts <= %(as_of)s::timestamptz
) fr ON TRUE
WHERE (%(site_id)s::text IS NULL OR s.site_id = %(site_id)s)
ORDER BY s.site_id
"""


router = router_for("kpis")
AsOfQ = Annotated[UtcDateTime | None, Query(description="Evaluate at this time (default now).")]


@router.get("/kpis", responses=responses(models.KpiPage), summary="Daily KPIs per site: energy, PR, availability")
def list_kpis(site_id: SiteQ = None, *, span: Range, rq: Read) -> Response:
    """Rows of ``bi.site_kpi_daily`` (maintenance KPIs per *site-local* day) for the days from
    the date of ``start`` to the date of ``end`` inclusive (UTC dates; default the last 30 days).
    PR is IEC 61724-1 (``energy / reference_energy``); availability counts daylight buckets."""
    lo, hi = rq.window(span, timedelta(days=30))
    return rq.rows(KPIS_SQL, (lo.date(), hi.date(), site_id, site_id), "kpis")


@router.get(
    "/overview",
    responses=responses(models.OverviewPage),
    summary="Operator view per site: current vs expected power, forecast band, energy today, PR, alerts, freshness",
)
def overview(site_id: SiteQ = None, as_of: AsOfQ = None, *, rq: Read) -> Response:
    """Current power = sum over inverters of each one's latest reading in the last 15 min;
    expected power from ``bi.site_power_15m`` (PVWatts on measured POA); forecast band of the
    current 15-min bucket from the latest issue; energy/PR/availability "today" are the
    ``bi.site_kpi_daily`` figures of the site-local day containing ``as_of``."""
    at = as_utc(as_of) if as_of is not None else datetime.now(UTC)
    return rq.rows(OVERVIEW_SQL, {"as_of": at, "site_id": site_id}, "overview")
