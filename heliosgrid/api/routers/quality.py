"""``/v1/quality``: data-quality check results and data freshness per site (seconds)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response
from psycopg import sql

from heliosgrid.api import models
from heliosgrid.api.formats import BAD_CURSOR, decode_cursor, encode_cursor
from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.routers.common import DeviceQ, Page, Range, Read, SiteQ, Text, Where, responses, router_for

# {0}: a Where; last placeholder: LIMIT.
DQ_RESULTS_PAGE_SQL = (
    "SELECT check_name, site_id, device_id, window_start, window_end, passed, measured_value, threshold, "
    "details, run_id, checked_at FROM dq_results WHERE {} "
    "ORDER BY window_end DESC, check_name DESC, site_id DESC, device_id DESC LIMIT %s"
)
FRESHNESS_SQL = """SELECT f.site_id, f.last_reading_ts, f.last_ingested_at,
                  extract(epoch FROM now() - f.last_reading_ts)::double precision AS age_s,
                  sla.s AS sla_s,
                  coalesce(extract(epoch FROM now() - f.last_reading_ts) <= sla.s, false) AS fresh
           FROM bi.site_freshness f
           CROSS JOIN (SELECT coalesce((SELECT freshness_sla_s FROM data_products WHERE name = 'readings'), 300) AS s) sla
           WHERE (%s::text IS NULL OR f.site_id = %s)
           ORDER BY f.site_id"""

router = router_for("quality")
CheckNameQ = Annotated[Text | None, Query(max_length=200)]


@router.get("/quality/results", responses=responses(models.DqPage), summary="Data-quality check results")
def list_quality_results(
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    check_name: CheckNameQ = None,
    passed: bool | None = None,
    *,
    span: Range,
    paging: Page,
    rq: Read,
) -> Response:
    """Results whose window ends in ``[start, end)`` (default last 7 days), newest first."""
    lo, hi = rq.window(span, timedelta(days=7))
    limit = rq.page_size(paging)
    where = Where("window_end >= %s AND window_end < %s", lo, hi)
    for col, value in (("site_id", site_id), ("device_id", device_id), ("check_name", check_name), ("passed", passed)):
        where.eq(col, value)
    if paging.cursor:
        after_ts, after_key = decode_cursor(paging.cursor)
        try:
            check, site, device = (str(v) for v in json.loads(str(after_key)))
            if "\x00" in check + site + device:
                raise ValueError("NUL in cursor")
        except (ValueError, TypeError):
            raise ApiProblem(422, BAD_CURSOR) from None
        where.add("(window_end, check_name, site_id, device_id) < (%s, %s, %s, %s)", after_ts, check, site, device)
    return rq.page(
        sql.SQL(DQ_RESULTS_PAGE_SQL).format(where.sql()), where.params, limit,
        lambda last: encode_cursor(last["window_end"], json.dumps([last["check_name"], last["site_id"], last["device_id"]])),
        "quality_results",
    )


@router.get(
    "/quality/freshness", responses=responses(models.FreshnessPage), summary="Data freshness per site against the readings SLA"
)
def freshness(site_id: SiteQ = None, *, rq: Read) -> Response:
    """``age_s`` = now − newest reading time; ``fresh`` when it is within the ``readings``
    data product's ``freshness_sla_s`` (300 s unless the catalogue says otherwise)."""
    return rq.rows(FRESHNESS_SQL, (site_id, site_id), "freshness")
