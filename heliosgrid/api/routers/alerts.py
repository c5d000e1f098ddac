"""``/v1/alerts``: alerts newest first, one alert, and the acknowledge / resolve lifecycle."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeAlias

import psycopg
from fastapi import Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from psycopg import sql

from heliosgrid import alerts as alert_lifecycle
from heliosgrid.api import models
from heliosgrid.api.formats import BAD_CURSOR, as_utc, decode_cursor, encode_cursor, jsonable
from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.routers.common import (
    Conn,
    DeviceQ,
    Page,
    Read,
    Reader,
    SiteQ,
    UtcDateTime,
    Where,
    Writer,
    problem_doc,
    responses,
    router_for,
    value_enum,
)

_ALERT_COLS = sql.SQL(", ").join(sql.Identifier(c) for c in alert_lifecycle.Alert.__dataclass_fields__)
# {0}: the alert columns; {1}: a Where; last placeholder: LIMIT.
ALERTS_PAGE_SQL = "SELECT {} FROM alerts WHERE {} ORDER BY started_at DESC, alert_id DESC LIMIT %s"

router = router_for("alerts")


# The query enums are the lifecycle's closed sets (plus 'active' = open or acknowledged).
if TYPE_CHECKING:
    AlertState: TypeAlias = StrEnum
    Severity: TypeAlias = StrEnum
    Source: TypeAlias = StrEnum
else:
    AlertState = value_enum("AlertState", (*alert_lifecycle.STATES, "active"))
    Severity = value_enum("Severity", alert_lifecycle.SEVERITIES)
    Source = value_enum("Source", alert_lifecycle.SOURCES)


StateQ = Annotated[AlertState | None, Query(description="'active' = open or acknowledged.")]
SinceQ = Annotated[UtcDateTime | None, Query(description="Only alerts last seen at or after this time.")]


async def alert_filter(
    state: StateQ = None,
    site_id: SiteQ = None,
    device_id: DeviceQ = None,
    severity: Severity | None = None,
    source: Source | None = None,
    since: SinceQ = None,
) -> Where:
    """The alert filters of the query string as one SQL condition on ``alerts`` (all must hold);
    ``async`` as it does no I/O (FastAPI runs it inline, not in its threadpool)."""
    where = Where()
    if state == "active":
        where.add("state <> 'resolved'")
    elif state is not None:
        where.add("state = %s", state.value)
    where.eq("site_id", site_id)
    where.eq("device_id", device_id)
    where.eq("severity", severity.value if severity is not None else None)
    where.eq("source", source.value if source is not None else None)
    if since is not None:
        where.add("last_seen_at >= %s", as_utc(since))
    return where


@router.get("/alerts", responses=responses(models.AlertPage), summary="Alerts, newest first, with filters")
def list_alerts(where: Annotated[Where, Depends(alert_filter)], *, paging: Page, rq: Read) -> Response:
    limit = rq.page_size(paging, default=100)
    if paging.cursor:
        after_ts, after_id = decode_cursor(paging.cursor)
        if not isinstance(after_id, int):
            raise ApiProblem(422, BAD_CURSOR)
        where.add("(started_at, alert_id) < (%s, %s)", after_ts, after_id)
    query = sql.SQL(ALERTS_PAGE_SQL).format(_ALERT_COLS, where.sql())
    return rq.page(query, where.params, limit, lambda last: encode_cursor(last["started_at"], last["alert_id"]), "alerts")


AlertIdPath = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


@router.get("/alerts/{alert_id}", responses=responses(models.AlertOut, tabular=False, not_found=True), summary="One alert")
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


def _add_transition(action: str, summary: str, description: str | None = None) -> None:
    """Register ``POST /alerts/{alert_id}/<action>`` (scope alerts:write) as ``<action>_alert``;
    the key's name and id are recorded as the actor."""

    def endpoint(conn: Conn, principal: Writer, alert_id: AlertIdPath) -> JSONResponse:
        return _transition(conn, alert_id, action, f"{principal.name} ({principal.key_id})")

    router.add_api_route(
        f"/alerts/{{alert_id}}/{action}", endpoint, methods=["POST"], name=f"{action}_alert",
        responses=_WRITE_RESPONSES, summary=summary, description=description,
    )


_add_transition(
    "acknowledge", "Acknowledge an open alert (scope alerts:write); idempotent",
    "Records the key's name and id as ``acknowledged_by``. 409 if the alert is resolved.",
)
_add_transition("resolve", "Resolve an open or acknowledged alert (scope alerts:write); idempotent")
