"""``/v1/readings`` and ``/v1/rollups``: raw readings (keyset pages), the latest reading per
device, and 15-minute / hourly / daily rollups per device or per site."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response
from psycopg import sql

from heliosgrid.api import models
from heliosgrid.api.formats import decode_cursor, encode_cursor
from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.routers.common import DeviceQ, Page, Range, Read, SiteQ, Where, responses, router_for

_READING_COLS = sql.SQL(
    "device_id, site_id, ts, ghi_w_m2, poa_w_m2, ambient_temp_c, module_temp_c, dc_power_kw, ac_power_kw, "
    "inverter_status, seq, ingested_at"
)
# {0}: the reading columns; {1}: a Where; last placeholder: LIMIT.
READINGS_PAGE_SQL = "SELECT {} FROM readings WHERE {} ORDER BY ts, device_id LIMIT %s"
LATEST_READINGS_SQL = sql.SQL(
    "SELECT DISTINCT ON (device_id) {} FROM readings "
    "WHERE ts > now() - make_interval(secs => %s) AND ts <= now() AND (%s::text IS NULL OR site_id = %s) "
    "ORDER BY device_id, ts DESC"
).format(_READING_COLS)
# {0}: the rollup table; {1}: a Where on alias r; last placeholder: LIMIT.
DEVICE_ROLLUPS_SQL = "SELECT r.* FROM {} r WHERE {} ORDER BY r.bucket, r.device_id LIMIT %s"
# {0}: the rollup table; {1}: a Where on alias r; {2}: a keyset HAVING or nothing; last placeholder: LIMIT.
SITE_ROLLUPS_SQL = """SELECT r.site_id, r.bucket,
                      sum(r.ac_power_kw_avg) FILTER (WHERE d.kind = 'inverter') AS ac_power_kw,
                      sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw,
                                                      d.ac_capacity_kw, d.gamma_pdc_per_c, d.inverter_efficiency))
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

router = router_for("readings")


@router.get("/readings", responses=responses(models.ReadingPage), summary="Raw readings, keyset-paginated by (ts, device_id)")
def list_readings(site_id: SiteQ = None, device_id: DeviceQ = None, *, span: Range, paging: Page, rq: Read) -> Response:
    """Default range: the last 24 h. Pages follow ``next_cursor`` until it is null."""
    lo, hi = rq.window(span, timedelta(days=1))
    limit = rq.page_size(paging)
    where = Where("ts >= %s AND ts < %s", lo, hi)
    where.eq("site_id", site_id)
    where.eq("device_id", device_id)
    if paging.cursor:
        after_ts, after_key = decode_cursor(paging.cursor)
        where.add("(ts, device_id) > (%s, %s)", after_ts, str(after_key))
    query = sql.SQL(READINGS_PAGE_SQL).format(_READING_COLS, where.sql())
    return rq.page(query, where.params, limit, lambda last: encode_cursor(last["ts"], last["device_id"]), "readings")


@router.get(
    "/readings/latest",
    responses=responses(models.ReadingPage),
    summary="The newest reading of every device (optionally of one site) within max_age_s",
)
def latest_readings(
    site_id: SiteQ = None,
    max_age_s: Annotated[int, Query(ge=1, le=86400, description="Ignore readings older than this (s).")] = 900,
    *,
    rq: Read,
) -> Response:
    """One row per device: its newest reading with ``ts`` in ``(now − max_age_s, now]``;
    devices without such a reading are absent. What a live view starts from."""
    return rq.rows(LATEST_READINGS_SQL, (max_age_s, site_id, site_id), "latest_readings")


class Resolution(StrEnum):
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"


class Grouping(StrEnum):
    device = "device"
    site = "site"


_DEFAULT_SPAN = {Resolution.m15: timedelta(days=1), Resolution.h1: timedelta(days=7), Resolution.d1: timedelta(days=90)}
GroupByQ = Annotated[Grouping, Query(description="'device' rows or 'site' aggregates (inverters summed).")]


@router.get(
    "/rollups/{resolution}",
    responses=responses(models.RollupPage),
    summary="15-minute, hourly or daily rollups per device or aggregated per site",
)
def list_rollups(
    resolution: Resolution,
    group_by: GroupByQ = Grouping.device,
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    *,
    span: Range,
    paging: Page,
    rq: Read,
) -> Response:
    """Buckets whose start lies in ``[start, end)``; keyset-paginated by (bucket, device_id|site_id).

    Site aggregates: ``ac_power_kw`` and ``energy_kwh`` summed over inverters, irradiance
    averaged over the devices reporting it, ``availability`` = ok samples / samples,
    ``expected_ac_power_kw`` = ``helios_expected_ac_power_kw`` (migration 0070: PVWatts with SAPM cell
    temperature and the inverter curve, the one definition shared with ``bi`` and maintenance) on
    each inverter's bucket-mean POA and module temperature (approximate for 1h/1d buckets).
    """
    lo, hi = rq.window(span, _DEFAULT_SPAN[resolution])
    limit = rq.page_size(paging)
    if group_by is Grouping.site and device_id:
        raise ApiProblem(422, "query parameter 'device_id' cannot be combined with group_by=site")
    table = sql.Identifier(f"readings_{resolution.value}")
    key_name = "device_id" if group_by is Grouping.device else "site_id"
    where = Where("r.bucket >= %s AND r.bucket < %s", lo, hi)
    where.eq("r.site_id", site_id)
    where.eq("r.device_id", device_id)
    params = where.params
    if group_by is Grouping.device:
        if paging.cursor:
            after_ts, after_key = decode_cursor(paging.cursor)
            where.add("(r.bucket, r.device_id) > (%s, %s)", after_ts, str(after_key))
        query = sql.SQL(DEVICE_ROLLUPS_SQL).format(table, where.sql())
    else:
        having = sql.SQL("")
        if paging.cursor:
            after_ts, after_key = decode_cursor(paging.cursor)
            having = sql.SQL("HAVING (r.bucket, r.site_id) > (%s, %s)")
            params = [*params, after_ts, str(after_key)]
        query = sql.SQL(SITE_ROLLUPS_SQL).format(table, where.sql(), having)
    filename = f"rollups_{resolution.value}"
    return rq.page(query, params, limit, lambda last: encode_cursor(last["bucket"], last[key_name]), filename)
