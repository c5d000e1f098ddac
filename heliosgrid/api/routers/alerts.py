"""``/v1/alerts``: alerts newest first, one alert, and the acknowledge / resolve lifecycle."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from psycopg import sql

from heliosgrid import alerts as alert_lifecycle
from heliosgrid.api import models
from heliosgrid.api.formats import BAD_CURSOR, as_utc, decode_cursor, encode_cursor, jsonable
from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.routers.common import (
    PREFIX,
    Conn,
    CursorQ,
    DeviceQ,
    FormatQ,
    LimitQ,
    Reader,
    SiteQ,
    UtcDateTime,
    Where,
    Writer,
    keyset_page,
    page_size,
    problem_doc,
    responses,
)

_ALERT_COLS = sql.SQL(", ").join(sql.Identifier(c) for c in alert_lifecycle.Alert.__dataclass_fields__)
# {0}: the alert columns; {1}: a Where; last placeholder: LIMIT.
ALERTS_PAGE_SQL = "SELECT {} FROM alerts WHERE {} ORDER BY started_at DESC, alert_id DESC LIMIT %s"

router = APIRouter(prefix=PREFIX)


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


@router.get("/alerts", tags=["alerts"], responses=responses(models.AlertPage), summary="Alerts, newest first, with filters")
def list_alerts(
    request: Request,
    conn: Conn,
    _: Reader,
    state: Annotated[AlertState | None, Query(description="'active' = open or acknowledged.")] = None,
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    severity: Severity | None = None,
    source: Source | None = None,
    since: Annotated[UtcDateTime | None, Query(description="Only alerts last seen at or after this time.")] = None,
    limit: LimitQ = None,
    cursor: CursorQ = None,
    format: FormatQ = None,
) -> Response:
    limit = page_size(request, limit, default=100)
    where = Where()
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
    query = sql.SQL(ALERTS_PAGE_SQL).format(_ALERT_COLS, where.sql())
    return keyset_page(
        request, format, conn, query, where.params, limit,
        lambda last: encode_cursor(last["started_at"], last["alert_id"]), "alerts",
    )


AlertIdPath = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


@router.get(
    "/alerts/{alert_id}",
    tags=["alerts"],
    responses=responses(models.AlertOut, tabular=False, not_found=True),
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
    **responses(models.AlertOut, tabular=False),
    404: problem_doc("No such alert"),
    409: problem_doc("Invalid state transition"),
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
