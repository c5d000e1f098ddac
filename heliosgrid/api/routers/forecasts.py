"""``/v1/forecasts``: P10/P50/P90 site AC power forecasts (kW) and their accuracy."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response
from psycopg import sql

from heliosgrid.api import models
from heliosgrid.api.formats import as_utc, jsonable
from heliosgrid.api.routers.common import ID_PATTERN, Range, Read, Text, UtcDateTime, Where, responses, router_for

LATEST_ISSUE_SQL = """SELECT max(issued_at) FROM forecasts
           WHERE site_id = %s AND (%s::timestamptz IS NULL OR issued_at <= %s)
             AND (%s::text IS NULL OR model_version = %s)"""
# {0}: a Where.
ISSUE_SQL = (
    "SELECT site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw, point_kw "
    "FROM forecasts WHERE {} ORDER BY target_ts, model_version"
)
ACCURACY_SQL = """SELECT site_id, target_ts, issued_at, model_version, horizon_min, p10_kw, p50_kw, p90_kw,
                  actual_kw, error_kw, abs_error_kw, in_band
           FROM bi.forecast_accuracy
           WHERE site_id = %s AND target_ts >= %s AND target_ts < %s AND actual_kw IS NOT NULL
           ORDER BY target_ts"""

router = router_for("forecasts")
IssuedAtQ = Annotated[
    UtcDateTime | None, Query(description="Return the latest issue with issued_at ≤ this time (default: latest).")
]
ModelVersionQ = Annotated[Text | None, Query(max_length=200)]


@router.get(
    "/forecasts",
    responses=responses(models.ForecastIssue),
    summary="The latest forecast issue of a site, or the one in force at a given time",
)
def get_forecast(
    site_id: Annotated[str, Query(pattern=ID_PATTERN, description="Site to forecast.")],
    issued_at: IssuedAtQ = None,
    model_version: ModelVersionQ = None,
    *,
    span: Range,
    rq: Read,
) -> Response:
    """P10/P50/P90 site AC power (kW) per 15-minute target time of one issue."""
    as_of = as_utc(issued_at) if issued_at is not None else None
    row = rq.conn.execute(LATEST_ISSUE_SQL, (site_id, as_of, as_of, model_version, model_version)).fetchone()
    issue = row[0] if row else None
    where = Where("site_id = %s AND issued_at = %s", site_id, issue)
    if model_version:
        where.add("model_version = %s", model_version)
    if span.start is not None:
        where.add("target_ts >= %s", as_utc(span.start))
    if span.end is not None:
        where.add("target_ts < %s", as_utc(span.end))
    cur = rq.conn.execute(sql.SQL(ISSUE_SQL).format(where.sql()), where.params)
    return rq.table(cur, cur.fetchall(), {"site_id": site_id, "issued_at": jsonable(issue)}, f"forecast_{site_id}")


@router.get(
    "/forecasts/accuracy",
    responses=responses(models.AccuracyPage),
    summary="Forecast vs actual per 15-minute target with MAE, RMSE, bias and P10–P90 coverage",
)
def forecast_accuracy(site_id: Annotated[str, Query(pattern=ID_PATTERN)], *, span: Range, rq: Read) -> Response:
    """For each target time the latest forecast issued no later than it (``bi.forecast_accuracy``).
    ``error_kw`` = P50 − actual; default range the last 7 days."""
    lo, hi = rq.window(span, timedelta(days=7))
    cur = rq.conn.execute(ACCURACY_SQL, (site_id, lo, hi))
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
    return rq.table(cur, rows, {"site_id": site_id, "summary": summary}, f"forecast_accuracy_{site_id}")
