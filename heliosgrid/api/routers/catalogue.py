"""``/v1/sites`` and ``/v1/devices``: the plant catalogue (sizes in kW, angles in degrees)."""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from psycopg import sql

from heliosgrid.api import models
from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.routers.common import Conn, Read, Reader, SitePath, SiteQ, one_row, responses, router_for

_SITE_COLS = sql.SQL(
    "site_id, name, latitude_deg, longitude_deg, altitude_m, timezone, dc_capacity_kw, ac_capacity_kw, tariff_per_kwh"
)
_DEVICE_COLS = sql.SQL(
    "device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw, ac_capacity_kw, "
    "gamma_pdc_per_c, inverter_efficiency, tracking, tracker_max_angle_deg, tracker_gcr"
)
SITES_SQL = sql.SQL("SELECT {} FROM sites ORDER BY site_id").format(_SITE_COLS)
SITE_SQL = sql.SQL("SELECT {} FROM sites WHERE site_id = %s").format(_SITE_COLS)
SITE_EXISTS_SQL = "SELECT 1 FROM sites WHERE site_id = %s"
DEVICES_SQL = sql.SQL(
    "SELECT {} FROM devices WHERE (%s::text IS NULL OR site_id = %s) ORDER BY site_id, device_id"
).format(_DEVICE_COLS)

router = router_for("catalogue")


@router.get("/sites", responses=responses(models.SitePage), summary="All sites")
def list_sites(*, rq: Read) -> Response:
    return rq.rows(SITES_SQL, None, "sites")


@router.get("/sites/{site_id}", responses=responses(models.Site, tabular=False, not_found=True), summary="One site")
def get_site(conn: Conn, _: Reader, site_id: SitePath) -> JSONResponse:
    return JSONResponse(one_row(conn.execute(SITE_SQL, (site_id,)), f"no site with id {site_id!r}"))


@router.get("/devices", responses=responses(models.DevicePage), summary="Devices, optionally of one site")
def list_devices(site_id: SiteQ = None, *, rq: Read) -> Response:
    return rq.rows(DEVICES_SQL, (site_id, site_id), "devices")


@router.get("/sites/{site_id}/devices", responses=responses(models.DevicePage, not_found=True), summary="Devices of one site")
def list_site_devices(site_id: SitePath, *, rq: Read) -> Response:
    if rq.conn.execute(SITE_EXISTS_SQL, (site_id,)).fetchone() is None:
        raise ApiProblem(404, f"no site with id {site_id!r}")
    return list_devices(site_id, rq=rq)
