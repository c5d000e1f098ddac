"""``/v1/sites`` and ``/v1/devices``: the plant catalogue (sizes in kW, angles in degrees)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from psycopg import sql

from heliosgrid.api import models
from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.routers.common import (
    PREFIX,
    Conn,
    FormatQ,
    Reader,
    SitePath,
    SiteQ,
    all_rows,
    one_row,
    responses,
)

_SITE_COLS = sql.SQL(
    "site_id, name, latitude_deg, longitude_deg, altitude_m, timezone, dc_capacity_kw, ac_capacity_kw, tariff_per_kwh"
)
_DEVICE_COLS = sql.SQL(
    "device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw, ac_capacity_kw, "
    "gamma_pdc_per_c, inverter_efficiency"
)
SITES_SQL = sql.SQL("SELECT {} FROM sites ORDER BY site_id").format(_SITE_COLS)
SITE_SQL = sql.SQL("SELECT {} FROM sites WHERE site_id = %s").format(_SITE_COLS)
SITE_EXISTS_SQL = "SELECT 1 FROM sites WHERE site_id = %s"
DEVICES_SQL = sql.SQL(
    "SELECT {} FROM devices WHERE (%s::text IS NULL OR site_id = %s) ORDER BY site_id, device_id"
).format(_DEVICE_COLS)

router = APIRouter(prefix=PREFIX)


@router.get("/sites", tags=["catalogue"], responses=responses(models.SitePage), summary="All sites")
def list_sites(request: Request, conn: Conn, _: Reader, format: FormatQ = None) -> Response:
    return all_rows(request, format, conn.execute(SITES_SQL), "sites")


@router.get(
    "/sites/{site_id}", tags=["catalogue"], responses=responses(models.Site, tabular=False, not_found=True), summary="One site"
)
def get_site(conn: Conn, _: Reader, site_id: SitePath) -> JSONResponse:
    return JSONResponse(one_row(conn.execute(SITE_SQL, (site_id,)), f"no site with id {site_id!r}"))


@router.get("/devices", tags=["catalogue"], responses=responses(models.DevicePage), summary="Devices, optionally of one site")
def list_devices(request: Request, conn: Conn, _: Reader, site_id: SiteQ = None, format: FormatQ = None) -> Response:
    return all_rows(request, format, conn.execute(DEVICES_SQL, (site_id, site_id)), "devices")


@router.get(
    "/sites/{site_id}/devices",
    tags=["catalogue"],
    responses=responses(models.DevicePage, not_found=True),
    summary="Devices of one site",
)
def list_site_devices(request: Request, conn: Conn, principal: Reader, site_id: SitePath, format: FormatQ = None) -> Response:
    if conn.execute(SITE_EXISTS_SQL, (site_id,)).fetchone() is None:
        raise ApiProblem(404, f"no site with id {site_id!r}")
    return list_devices(request, conn, principal, site_id=site_id, format=format)
