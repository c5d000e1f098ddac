"""The ``/v1`` endpoints: catalogue, readings, rollups, KPIs, forecasts, alerts, quality.

All SQL is parameterised (psycopg placeholders; identifiers only from closed enums via
``psycopg.sql``). Time ranges are half-open ``[start, end)`` in UTC; naive timestamps are
taken as UTC. Units follow the column names (kW, kWh, W/m², kWh/m², °C, seconds).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import psycopg
import yaml
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from psycopg import sql

from heliosgrid import __version__
from heliosgrid import alerts as alert_lifecycle
from heliosgrid.api import models
from heliosgrid.api.auth import Principal, get_conn, require
from heliosgrid.api.formats import (
    BAD_CURSOR,
    CSV_MEDIA,
    PARQUET_MEDIA,
    Format,
    as_utc,
    check_page_size,
    columns_of,
    decode_cursor,
    encode_cursor,
    jsonable,
    render,
    time_range,
)
from heliosgrid.api.problems import ApiProblem

REPO_ROOT = Path(__file__).resolve().parents[2]
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

_TABULAR = {
    "content": {CSV_MEDIA: {"schema": {"type": "string"}}, PARQUET_MEDIA: {"schema": {"type": "string", "format": "binary"}}}
}
_PROBLEM_CONTENT = {"application/problem+json": {"schema": models.Problem.model_json_schema()}}


def _problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM_CONTENT}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem_doc("Missing or invalid API key"),
    403: _problem_doc("The key lacks the required scope"),
    422: _problem_doc("Invalid parameters (including page size and time range limits)"),
    429: _problem_doc("Rate limit exceeded (see Retry-After)"),
    503: _problem_doc("Database unavailable (see Retry-After)"),
}


def _responses(model: type[Any], tabular: bool = True, not_found: bool = False) -> dict[int | str, dict[str, Any]]:
    ok: dict[str, Any] = {"model": model}
    if tabular:
        ok.update(_TABULAR)
    out: dict[int | str, dict[str, Any]] = {200: ok, **_ERRORS}
    if not_found:
        out[404] = _problem_doc("No such resource")
    return out


Conn = Annotated[psycopg.Connection, Depends(get_conn)]
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("alerts:write"))]
FormatQ = Annotated[Format | None, Query(description="Response format; overrides the Accept header.")]
SiteQ = Annotated[str | None, Query(pattern=ID_PATTERN, description="Restrict to one site.")]
DeviceQ = Annotated[str | None, Query(pattern=ID_PATTERN, description="Restrict to one device.")]
StartQ = Annotated[datetime | None, Query(description="Inclusive start (ISO 8601; naive = UTC).")]
EndQ = Annotated[datetime | None, Query(description="Exclusive end (ISO 8601; naive = UTC). Default: now.")]
CursorQ = Annotated[str | None, Query(max_length=512, description="Opaque cursor from the previous page.")]
LimitQ = Annotated[
    int | None, Query(ge=1, description="Page size (default 1000, alerts 100; capped at HELIOS_API_MAX_PAGE_SIZE).")
]
SitePath = Annotated[str, PathParam(pattern=ID_PATTERN)]

router = APIRouter(prefix="/v1")


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _range(request: Request, start: datetime | None, end: datetime | None, default: timedelta) -> tuple[datetime, datetime]:
    return time_range(start, end, max_days=_settings(request).api_max_range_days, default_span=default)


def _limit(request: Request, limit: int | None, default: int = 1000) -> int:
    max_size: int = _settings(request).api_max_page_size
    if limit is None:
        return min(default, max_size)
    return check_page_size(limit, max_size)


class _Where:
    """A conjunction of SQL conditions and their parameters, built up filter by filter."""

    def __init__(self, condition: str | None = None, *params: Any) -> None:
        self.clauses: list[sql.Composable] = []
        self.params: list[Any] = []
        if condition is not None:
            self.add(condition, *params)

    def add(self, condition: str, *params: Any) -> None:
        """Add a literal condition with ``%s`` placeholders for ``params``."""
        self.clauses.append(sql.SQL(condition))  # literal SQL from this module only
        self.params.extend(params)

    def eq(self, column: str, value: Any) -> None:
        """``column = value`` unless ``value`` is None; ``column`` may be qualified (``r.site_id``)."""
        if value is not None:
            self.clauses.append(sql.SQL("{} = %s").format(sql.Identifier(*column.split("."))))
            self.params.append(value)

    def sql(self) -> sql.Composable:
        return sql.SQL(" AND ").join(self.clauses) if self.clauses else sql.SQL("TRUE")


def _all_rows(request: Request, fmt: Format | None, cur: psycopg.Cursor[Any], filename: str) -> Response:
    """Every row of an executed query in the negotiated format."""
    return render(request, fmt, columns_of(cur.description), cur.fetchall(), filename=filename)


def _page(
    request: Request,
    fmt: Format | None,
    conn: psycopg.Connection,
    query: sql.Composed,
    params: Sequence[Any],
    limit: int,
    cursor_after: Callable[[dict[str, Any]], str],
    filename: str,
) -> Response:
    """One keyset page: runs ``query`` (whose last placeholder is its LIMIT) for ``limit + 1`` rows;
    when there are more than ``limit``, ``next_cursor`` is ``cursor_after(last row by column name)``."""
    cur = conn.execute(query, [*params, limit + 1])
    rows = cur.fetchall()
    cols = columns_of(cur.description)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_after(dict(zip([c.name for c in cols], rows[-1], strict=True)))
    return render(request, fmt, cols, rows, next_cursor=next_cursor, filename=filename)


def _one_row(cur: psycopg.Cursor[Any], not_found: str) -> dict[str, Any]:
    """The single row of an executed query as a JSON-ready dict; 404 ``not_found`` when there is none."""
    row = cur.fetchone()
    if row is None:
        raise ApiProblem(404, not_found)
    names = [c.name for c in cur.description or []]
    return {n: jsonable(v) for n, v in zip(names, row, strict=True)}


# --- health ------------------------------------------------------------------------------------


@router.get("/health", response_model=models.Health, tags=["meta"], summary="Liveness and database reachability (no key)")
def health(request: Request) -> JSONResponse:
    try:
        with request.app.state.pool.connection(timeout=3) as conn:
            conn.execute("SELECT 1")
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})
    except Exception:
        return JSONResponse({"status": "degraded", "database": "unavailable", "version": __version__}, status_code=503)


# --- sites and devices --------------------------------------------------------------------------

_SITE_COLS = sql.SQL(
    "site_id, name, latitude_deg, longitude_deg, altitude_m, timezone, dc_capacity_kw, ac_capacity_kw, tariff_per_kwh"
)
_DEVICE_COLS = sql.SQL(
    "device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw, ac_capacity_kw, "
    "gamma_pdc_per_c, inverter_efficiency"
)


@router.get("/sites", tags=["catalogue"], responses=_responses(models.SitePage), summary="All sites")
def list_sites(request: Request, conn: Conn, _: Reader, format: FormatQ = None) -> Response:
    return _all_rows(request, format, conn.execute(sql.SQL("SELECT {} FROM sites ORDER BY site_id").format(_SITE_COLS)), "sites")


@router.get(
    "/sites/{site_id}", tags=["catalogue"], responses=_responses(models.Site, tabular=False, not_found=True), summary="One site"
)
def get_site(conn: Conn, _: Reader, site_id: SitePath) -> JSONResponse:
    cur = conn.execute(sql.SQL("SELECT {} FROM sites WHERE site_id = %s").format(_SITE_COLS), (site_id,))
    return JSONResponse(_one_row(cur, f"no site with id {site_id!r}"))


@router.get("/devices", tags=["catalogue"], responses=_responses(models.DevicePage), summary="Devices, optionally of one site")
def list_devices(request: Request, conn: Conn, _: Reader, site_id: SiteQ = None, format: FormatQ = None) -> Response:
    cur = conn.execute(
        sql.SQL("SELECT {} FROM devices WHERE (%s::text IS NULL OR site_id = %s) ORDER BY site_id, device_id").format(
            _DEVICE_COLS
        ),
        (site_id, site_id),
    )
    return _all_rows(request, format, cur, "devices")


@router.get(
    "/sites/{site_id}/devices",
    tags=["catalogue"],
    responses=_responses(models.DevicePage, not_found=True),
    summary="Devices of one site",
)
def list_site_devices(request: Request, conn: Conn, principal: Reader, site_id: SitePath, format: FormatQ = None) -> Response:
    if conn.execute("SELECT 1 FROM sites WHERE site_id = %s", (site_id,)).fetchone() is None:
        raise ApiProblem(404, f"no site with id {site_id!r}")
    return list_devices(request, conn, principal, site_id=site_id, format=format)


# --- readings ----------------------------------------------------------------------------------

_READING_COLS = sql.SQL(
    "device_id, site_id, ts, ghi_w_m2, poa_w_m2, ambient_temp_c, module_temp_c, dc_power_kw, ac_power_kw, "
    "inverter_status, seq, ingested_at"
)


@router.get(
    "/readings",
    tags=["readings"],
    responses=_responses(models.ReadingPage),
    summary="Raw readings, keyset-paginated by (ts, device_id)",
)
def list_readings(
    request: Request,
    conn: Conn,
    _: Reader,
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    start: StartQ = None,
    end: EndQ = None,
    limit: LimitQ = None,
    cursor: CursorQ = None,
    format: FormatQ = None,
) -> Response:
    """Default range: the last 24 h. Pages follow ``next_cursor`` until it is null."""
    lo, hi = _range(request, start, end, timedelta(days=1))
    limit = _limit(request, limit)
    where = _Where("ts >= %s AND ts < %s", lo, hi)
    where.eq("site_id", site_id)
    where.eq("device_id", device_id)
    if cursor:
        after_ts, after_key = decode_cursor(cursor)
        where.add("(ts, device_id) > (%s, %s)", after_ts, str(after_key))
    query = sql.SQL("SELECT {} FROM readings WHERE {} ORDER BY ts, device_id LIMIT %s").format(_READING_COLS, where.sql())
    return _page(
        request, format, conn, query, where.params, limit, lambda last: encode_cursor(last["ts"], last["device_id"]), "readings"
    )


@router.get(
    "/readings/latest",
    tags=["readings"],
    responses=_responses(models.ReadingPage),
    summary="The newest reading of every device (optionally of one site) within max_age_s",
)
def latest_readings(
    request: Request,
    conn: Conn,
    _: Reader,
    site_id: SiteQ = None,
    max_age_s: Annotated[int, Query(ge=1, le=86400, description="Ignore readings older than this (s).")] = 900,
    format: FormatQ = None,
) -> Response:
    """One row per device: its newest reading with ``ts`` in ``(now − max_age_s, now]``;
    devices without such a reading are absent. What a live view starts from."""
    cur = conn.execute(
        sql.SQL(
            "SELECT DISTINCT ON (device_id) {} FROM readings "
            "WHERE ts > now() - make_interval(secs => %s) AND ts <= now() AND (%s::text IS NULL OR site_id = %s) "
            "ORDER BY device_id, ts DESC"
        ).format(_READING_COLS),
        (max_age_s, site_id, site_id),
    )
    return _all_rows(request, format, cur, "latest_readings")


# --- rollups -----------------------------------------------------------------------------------


class Resolution(StrEnum):
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"


class Grouping(StrEnum):
    device = "device"
    site = "site"


_DEFAULT_SPAN = {Resolution.m15: timedelta(days=1), Resolution.h1: timedelta(days=7), Resolution.d1: timedelta(days=90)}


@router.get(
    "/rollups/{resolution}",
    tags=["readings"],
    responses=_responses(models.RollupPage),
    summary="15-minute, hourly or daily rollups per device or aggregated per site",
)
def list_rollups(
    request: Request,
    conn: Conn,
    _: Reader,
    resolution: Resolution,
    group_by: Annotated[Grouping, Query(description="'device' rows or 'site' aggregates (inverters summed).")] = Grouping.device,
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    start: StartQ = None,
    end: EndQ = None,
    limit: LimitQ = None,
    cursor: CursorQ = None,
    format: FormatQ = None,
) -> Response:
    """Buckets whose start lies in ``[start, end)``; keyset-paginated by (bucket, device_id|site_id).

    Site aggregates: ``ac_power_kw`` and ``energy_kwh`` summed over inverters, irradiance
    averaged over the devices reporting it, ``availability`` = ok samples / samples,
    ``expected_ac_power_kw`` = PVWatts on each inverter's bucket-mean POA and module
    temperature (same formula as ``bi.device_power_15m``; approximate for 1h/1d buckets).
    """
    lo, hi = _range(request, start, end, _DEFAULT_SPAN[resolution])
    limit = _limit(request, limit)
    if group_by is Grouping.site and device_id:
        raise ApiProblem(422, "query parameter 'device_id' cannot be combined with group_by=site")
    table = sql.Identifier(f"readings_{resolution.value}")
    key_name = "device_id" if group_by is Grouping.device else "site_id"
    where = _Where("r.bucket >= %s AND r.bucket < %s", lo, hi)
    where.eq("r.site_id", site_id)
    where.eq("r.device_id", device_id)
    params = where.params
    if group_by is Grouping.device:
        if cursor:
            after_ts, after_key = decode_cursor(cursor)
            where.add("(r.bucket, r.device_id) > (%s, %s)", after_ts, str(after_key))
        query = sql.SQL("SELECT r.* FROM {} r WHERE {} ORDER BY r.bucket, r.device_id LIMIT %s").format(table, where.sql())
    else:
        having = sql.SQL("")
        if cursor:
            after_ts, after_key = decode_cursor(cursor)
            having = sql.SQL("HAVING (r.bucket, r.site_id) > (%s, %s)")
            params = [*params, after_ts, str(after_key)]
        query = sql.SQL(
            """SELECT r.site_id, r.bucket,
                      sum(r.ac_power_kw_avg) FILTER (WHERE d.kind = 'inverter') AS ac_power_kw,
                      sum(least(d.ac_capacity_kw, greatest(0.0, d.dc_capacity_kw * r.poa_w_m2_avg / 1000.0
                              * (1.0 + d.gamma_pdc_per_c * (coalesce(r.module_temp_c_avg, 25.0) - 25.0))
                              * d.inverter_efficiency)))
                          FILTER (WHERE d.kind = 'inverter') AS expected_ac_power_kw,
                      sum(r.energy_kwh) FILTER (WHERE d.kind = 'inverter') AS energy_kwh,
                      avg(r.poa_w_m2_avg) AS poa_w_m2,
                      avg(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2,
                      avg(r.module_temp_c_avg) AS module_temp_c,
                      avg(r.ambient_temp_c_avg) AS ambient_temp_c,
                      sum(r.status_ok_count) FILTER (WHERE d.kind = 'inverter')::double precision
                          / nullif(sum(r.sample_count) FILTER (WHERE d.kind = 'inverter'), 0) AS availability,
                      avg(r.completeness) AS completeness,
                      count(DISTINCT r.device_id) AS device_count
               FROM {} r JOIN devices d ON d.device_id = r.device_id
               WHERE {} GROUP BY r.site_id, r.bucket {} ORDER BY r.bucket, r.site_id LIMIT %s"""
        ).format(table, where.sql(), having)
    return _page(
        request, format, conn, query, params, limit,
        lambda last: encode_cursor(last["bucket"], last[key_name]), f"rollups_{resolution.value}",
    )


# --- KPIs and the operator overview ------------------------------------------------------------


@router.get("/kpis", tags=["kpis"], responses=_responses(models.KpiPage), summary="Daily KPIs per site: energy, PR, availability")
def list_kpis(
    request: Request,
    conn: Conn,
    _: Reader,
    site_id: SiteQ = None,
    start: StartQ = None,
    end: EndQ = None,
    format: FormatQ = None,
) -> Response:
    """Rows of ``bi.site_kpi_daily`` (maintenance KPIs per *site-local* day) for the days from
    the date of ``start`` to the date of ``end`` inclusive (UTC dates; default the last 30 days).
    PR is IEC 61724-1 (``energy / reference_energy``); availability counts daylight buckets."""
    lo, hi = _range(request, start, end, timedelta(days=30))
    cur = conn.execute(
        """SELECT site_id, day, inverters, dc_capacity_kw, energy_kwh, reference_energy_kwh, specific_yield_kwh_kwp,
                  performance_ratio, performance_ratio_temp_corr, availability, expected_energy_kwh, lost_energy_kwh, revenue
           FROM bi.site_kpi_daily
           WHERE day >= %s AND day <= %s AND (%s::text IS NULL OR site_id = %s)
           ORDER BY day, site_id""",
        (lo.date(), hi.date(), site_id, site_id),
    )
    return _all_rows(request, format, cur, "kpis")


_OVERVIEW_SQL = """
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


@router.get(
    "/overview",
    tags=["kpis"],
    responses=_responses(models.OverviewPage),
    summary="Operator view per site: current vs expected power, forecast band, energy today, PR, alerts, freshness",
)
def overview(
    request: Request,
    conn: Conn,
    _: Reader,
    site_id: SiteQ = None,
    as_of: Annotated[datetime | None, Query(description="Evaluate at this time (default now).")] = None,
    format: FormatQ = None,
) -> Response:
    """Current power = sum over inverters of each one's latest reading in the last 15 min;
    expected power from ``bi.site_power_15m`` (PVWatts on measured POA); forecast band of the
    current 15-min bucket from the latest issue; energy/PR/availability "today" are the
    ``bi.site_kpi_daily`` figures of the site-local day containing ``as_of``."""
    at = as_utc(as_of) if as_of is not None else datetime.now(UTC)
    return _all_rows(request, format, conn.execute(_OVERVIEW_SQL, {"as_of": at, "site_id": site_id}), "overview")


# --- forecasts ---------------------------------------------------------------------------------


@router.get(
    "/forecasts",
    tags=["forecasts"],
    responses=_responses(models.ForecastIssue),
    summary="The latest forecast issue of a site, or the one in force at a given time",
)
def get_forecast(
    request: Request,
    conn: Conn,
    _: Reader,
    site_id: Annotated[str, Query(pattern=ID_PATTERN, description="Site to forecast.")],
    issued_at: Annotated[
        datetime | None, Query(description="Return the latest issue with issued_at ≤ this time (default: latest).")
    ] = None,
    model_version: Annotated[str | None, Query(max_length=200)] = None,
    start: StartQ = None,
    end: EndQ = None,
    format: FormatQ = None,
) -> Response:
    """P10/P50/P90 site AC power (kW) per 15-minute target time of one issue."""
    as_of = as_utc(issued_at) if issued_at is not None else None
    row = conn.execute(
        """SELECT max(issued_at) FROM forecasts
           WHERE site_id = %s AND (%s::timestamptz IS NULL OR issued_at <= %s)
             AND (%s::text IS NULL OR model_version = %s)""",
        (site_id, as_of, as_of, model_version, model_version),
    ).fetchone()
    issue = row[0] if row else None
    where = _Where("site_id = %s AND issued_at = %s", site_id, issue)
    if model_version:
        where.add("model_version = %s", model_version)
    if start is not None:
        where.add("target_ts >= %s", as_utc(start))
    if end is not None:
        where.add("target_ts < %s", as_utc(end))
    cur = conn.execute(
        sql.SQL(
            "SELECT site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw "
            "FROM forecasts WHERE {} ORDER BY target_ts, model_version"
        ).format(where.sql()),
        where.params,
    )
    return render(
        request, format, columns_of(cur.description), cur.fetchall(),
        envelope={"site_id": site_id, "issued_at": jsonable(issue)}, filename=f"forecast_{site_id}",
    )


@router.get(
    "/forecasts/accuracy",
    tags=["forecasts"],
    responses=_responses(models.AccuracyPage),
    summary="Forecast vs actual per 15-minute target with MAE, RMSE, bias and P10–P90 coverage",
)
def forecast_accuracy(
    request: Request,
    conn: Conn,
    _: Reader,
    site_id: Annotated[str, Query(pattern=ID_PATTERN)],
    start: StartQ = None,
    end: EndQ = None,
    format: FormatQ = None,
) -> Response:
    """For each target time the latest forecast issued no later than it (``bi.forecast_accuracy``).
    ``error_kw`` = P50 − actual; default range the last 7 days."""
    lo, hi = _range(request, start, end, timedelta(days=7))
    cur = conn.execute(
        """SELECT site_id, target_ts, issued_at, model_version, horizon_min, p10_kw, p50_kw, p90_kw,
                  actual_kw, error_kw, abs_error_kw, in_band
           FROM bi.forecast_accuracy
           WHERE site_id = %s AND target_ts >= %s AND target_ts < %s AND actual_kw IS NOT NULL
           ORDER BY target_ts""",
        (site_id, lo, hi),
    )
    rows = cur.fetchall()
    errors = [float(r[9]) for r in rows]
    n = len(errors)
    summary = {
        "n": n,
        "mae_kw": sum(abs(e) for e in errors) / n if n else None,
        "rmse_kw": math.sqrt(sum(e * e for e in errors) / n) if n else None,
        "bias_kw": sum(errors) / n if n else None,
        "p10_p90_coverage": sum(1 for r in rows if r[11]) / n if n else None,
    }
    return render(
        request, format, columns_of(cur.description), rows,
        envelope={"site_id": site_id, "summary": summary}, filename=f"forecast_accuracy_{site_id}",
    )


# --- alerts ------------------------------------------------------------------------------------


class AlertState(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    active = "active"


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class Source(StrEnum):
    maintenance = "maintenance"
    quality = "quality"
    pipeline = "pipeline"
    forecast = "forecast"


_ALERT_COLS = sql.SQL(", ").join(sql.Identifier(c) for c in alert_lifecycle.Alert.__dataclass_fields__)


@router.get("/alerts", tags=["alerts"], responses=_responses(models.AlertPage), summary="Alerts, newest first, with filters")
def list_alerts(
    request: Request,
    conn: Conn,
    _: Reader,
    state: Annotated[AlertState | None, Query(description="'active' = open or acknowledged.")] = None,
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    severity: Severity | None = None,
    source: Source | None = None,
    since: Annotated[datetime | None, Query(description="Only alerts last seen at or after this time.")] = None,
    limit: LimitQ = None,
    cursor: CursorQ = None,
    format: FormatQ = None,
) -> Response:
    limit = _limit(request, limit, default=100)
    where = _Where()
    if state is AlertState.active:
        where.add("state <> 'resolved'")
    elif state is not None:
        where.add("state = %s", state.value)
    where.eq("site_id", site_id)
    where.eq("device_id", device_id)
    where.eq("severity", severity.value if severity is not None else None)
    where.eq("source", source.value if source is not None else None)
    if since is not None:
        where.add("last_seen_at >= %s", as_utc(since))
    if cursor:
        after_ts, after_id = decode_cursor(cursor)
        if not isinstance(after_id, int):
            raise ApiProblem(422, BAD_CURSOR)
        where.add("(started_at, alert_id) < (%s, %s)", after_ts, after_id)
    query = sql.SQL("SELECT {} FROM alerts WHERE {} ORDER BY started_at DESC, alert_id DESC LIMIT %s").format(
        _ALERT_COLS, where.sql()
    )
    return _page(
        request, format, conn, query, where.params, limit,
        lambda last: encode_cursor(last["started_at"], last["alert_id"]), "alerts",
    )


AlertIdPath = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


@router.get(
    "/alerts/{alert_id}",
    tags=["alerts"],
    responses=_responses(models.AlertOut, tabular=False, not_found=True),
    summary="One alert",
)
def get_alert(conn: Conn, _: Reader, alert_id: AlertIdPath) -> JSONResponse:
    try:
        alert = alert_lifecycle.get_alert(conn, alert_id)
    except alert_lifecycle.AlertNotFound as exc:
        raise ApiProblem(404, str(exc)) from None
    return _alert_json(alert)


def _alert_json(alert: alert_lifecycle.Alert) -> JSONResponse:
    return JSONResponse({k: jsonable(getattr(alert, k)) for k in alert.__dataclass_fields__})


def _transition(conn: psycopg.Connection, alert_id: int, action: str, by: str) -> JSONResponse:
    fn = alert_lifecycle.acknowledge if action == "acknowledge" else alert_lifecycle.resolve
    try:
        with conn.transaction():
            alert = fn(conn, alert_id, by)
    except alert_lifecycle.AlertNotFound as exc:
        raise ApiProblem(404, str(exc)) from None
    except alert_lifecycle.AlertError as exc:
        raise ApiProblem(409, f"cannot {action} alert {alert_id}: {exc}") from None
    return _alert_json(alert)


_WRITE_RESPONSES = {
    **_responses(models.AlertOut, tabular=False),
    404: _problem_doc("No such alert"),
    409: _problem_doc("Invalid state transition"),
}


@router.post(
    "/alerts/{alert_id}/acknowledge",
    tags=["alerts"],
    responses=_WRITE_RESPONSES,
    summary="Acknowledge an open alert (scope alerts:write); idempotent",
)
def acknowledge_alert(conn: Conn, principal: Writer, alert_id: AlertIdPath) -> JSONResponse:
    """Records the key's name and id as ``acknowledged_by``. 409 if the alert is resolved."""
    return _transition(conn, alert_id, "acknowledge", f"{principal.name} ({principal.key_id})")


@router.post(
    "/alerts/{alert_id}/resolve",
    tags=["alerts"],
    responses=_WRITE_RESPONSES,
    summary="Resolve an open or acknowledged alert (scope alerts:write); idempotent",
)
def resolve_alert(conn: Conn, principal: Writer, alert_id: AlertIdPath) -> JSONResponse:
    return _transition(conn, alert_id, "resolve", f"{principal.name} ({principal.key_id})")


# --- data quality ------------------------------------------------------------------------------


@router.get("/quality/results", tags=["quality"], responses=_responses(models.DqPage), summary="Data-quality check results")
def list_quality_results(
    request: Request,
    conn: Conn,
    _: Reader,
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    check_name: Annotated[str | None, Query(max_length=200)] = None,
    passed: bool | None = None,
    start: StartQ = None,
    end: EndQ = None,
    limit: LimitQ = None,
    cursor: CursorQ = None,
    format: FormatQ = None,
) -> Response:
    """Results whose window ends in ``[start, end)`` (default last 7 days), newest first."""
    lo, hi = _range(request, start, end, timedelta(days=7))
    limit = _limit(request, limit)
    where = _Where("window_end >= %s AND window_end < %s", lo, hi)
    for col, value in (("site_id", site_id), ("device_id", device_id), ("check_name", check_name), ("passed", passed)):
        where.eq(col, value)
    if cursor:
        after_ts, after_key = decode_cursor(cursor)
        try:
            check, site, device = json.loads(str(after_key))
        except (ValueError, TypeError):
            raise ApiProblem(422, BAD_CURSOR) from None
        where.add("(window_end, check_name, site_id, device_id) < (%s, %s, %s, %s)", after_ts, str(check), str(site), str(device))
    query = sql.SQL(
        "SELECT check_name, site_id, device_id, window_start, window_end, passed, measured_value, threshold, "
        "details, run_id, checked_at FROM dq_results WHERE {} "
        "ORDER BY window_end DESC, check_name DESC, site_id DESC, device_id DESC LIMIT %s"
    ).format(where.sql())
    return _page(
        request, format, conn, query, where.params, limit,
        lambda last: encode_cursor(last["window_end"], json.dumps([last["check_name"], last["site_id"], last["device_id"]])),
        "quality_results",
    )


@router.get(
    "/quality/freshness",
    tags=["quality"],
    responses=_responses(models.FreshnessPage),
    summary="Data freshness per site against the readings SLA",
)
def freshness(request: Request, conn: Conn, _: Reader, site_id: SiteQ = None, format: FormatQ = None) -> Response:
    """``age_s`` = now − newest reading time; ``fresh`` when it is within the ``readings``
    data product's ``freshness_sla_s`` (300 s unless the catalogue says otherwise)."""
    cur = conn.execute(
        """SELECT f.site_id, f.last_reading_ts, f.last_ingested_at,
                  extract(epoch FROM now() - f.last_reading_ts)::double precision AS age_s,
                  sla.s AS sla_s,
                  coalesce(extract(epoch FROM now() - f.last_reading_ts) <= sla.s, false) AS fresh
           FROM bi.site_freshness f
           CROSS JOIN (SELECT coalesce((SELECT freshness_sla_s FROM data_products WHERE name = 'readings'), 300) AS s) sla
           WHERE (%s::text IS NULL OR f.site_id = %s)
           ORDER BY f.site_id""",
        (site_id, site_id),
    )
    return _all_rows(request, format, cur, "freshness")


# --- data-product catalogue --------------------------------------------------------------------

_PRODUCT_SQL = (
    "SELECT name, version, title, description, owner, relation, contract_path, freshness_sla_s, updated_at, "
    "'/v1/data-products/' || name AS contract_url FROM data_products"
)


@router.get(
    "/data-products", tags=["catalogue"], responses=_responses(models.DataProductPage), summary="The data-product catalogue"
)
def list_data_products(request: Request, conn: Conn, _: Reader, format: FormatQ = None) -> Response:
    return _all_rows(request, format, conn.execute(_PRODUCT_SQL + " ORDER BY name"), "data_products")


@router.get(
    "/data-products/{name}",
    tags=["catalogue"],
    responses=_responses(models.DataProductDetail, tabular=False, not_found=True),
    summary="One data product with its ODCS data contract",
)
def get_data_product(conn: Conn, _: Reader, name: Annotated[str, PathParam(pattern=r"^[a-z0-9_-]{1,64}$")]) -> JSONResponse:
    body = _one_row(conn.execute(_PRODUCT_SQL + " WHERE name = %s", (name,)), f"no data product named {name!r}")
    contract_file = (REPO_ROOT / body["contract_path"]).resolve()
    contract = None
    if contract_file.is_file() and REPO_ROOT in contract_file.parents:
        contract = yaml.safe_load(contract_file.read_text(encoding="utf-8"))
    body["contract"] = json.loads(json.dumps(contract, default=str)) if contract is not None else None
    return JSONResponse(body)
