"""Server-Sent Events: ``GET /v1/stream`` pushes new readings and alert changes.

The stream polls the database every ``poll_interval_s`` (default 1 s) for readings whose
``ingested_at`` and alerts whose ``updated_at`` are newer than the last seen watermark.
Because ``now()`` is the *transaction start* time, a row committed late can carry a time a
little older than rows already sent; each poll therefore re-reads a ``OVERLAP_S`` window
behind the watermark and drops rows already sent, so such rows are still delivered once.
Readings whose measurement time is more than ``MAX_READING_AGE`` older than the watermark
(bulk backfills) are not streamed: clients reload history from ``/v1/rollups``.

Events (``event:`` field): ``ready`` once at subscription (``{"since": …}``), ``reading``
(one row of ``readings``), ``alert`` (one row of ``alerts``); a ``: keep-alive`` comment
every ``KEEPALIVE_S`` seconds. EventSource cannot send headers, so this endpoint also accepts
the key as ``?key=`` (prefer the header elsewhere: query strings end up in access logs).
A key may hold at most ``max_streams_per_key`` open streams (``create_app``, default 10; 429).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from heliosgrid.api.auth import authenticate
from heliosgrid.api.formats import jsonable
from heliosgrid.api.problems import ApiProblem

OVERLAP_S = 5.0
KEEPALIVE_S = 15.0
MAX_BATCH = 1000
MAX_READING_AGE = timedelta(days=2)

router = APIRouter(prefix="/v1")

_READINGS_SQL = """
SELECT device_id, site_id, ts, ghi_w_m2, poa_w_m2, ambient_temp_c, module_temp_c, dc_power_kw, ac_power_kw,
       inverter_status, seq, ingested_at
FROM readings
WHERE ingested_at > %(since)s AND ts > %(since)s - %(max_age)s
  AND (%(site_id)s::text IS NULL OR site_id = %(site_id)s)
ORDER BY ingested_at, device_id, ts
LIMIT %(limit)s
"""
_ALERTS_SQL = """
SELECT alert_id, site_id, device_id, source, fault_type, severity, state, started_at, last_seen_at, ended_at,
       title, energy_lost_kwh, revenue_lost, currency, recommended_action, acknowledged_by, acknowledged_at,
       resolved_by, resolved_at, updated_at
FROM alerts
WHERE updated_at > %(since)s AND (%(site_id)s::text IS NULL OR site_id = %(site_id)s)
ORDER BY updated_at, alert_id
LIMIT %(limit)s
"""


class _Follower:
    """Watermark + overlap de-duplication for one table (not thread-shared)."""

    def __init__(self, query: str, ts_col: str, key_cols: tuple[str, ...], start: datetime) -> None:
        self.query = query
        self.ts_col = ts_col
        self.key_cols = key_cols
        self.floor = start
        self.watermark = start
        self.sent: dict[tuple[Any, ...], datetime] = {}

    def poll(self, pool: Any, site_id: str | None) -> list[dict[str, Any]]:
        since = max(self.floor, self.watermark - timedelta(seconds=OVERLAP_S))
        with pool.connection() as conn:
            cur = conn.execute(
                self.query, {"since": since, "site_id": site_id, "limit": MAX_BATCH, "max_age": MAX_READING_AGE}
            )
            names = [c.name for c in cur.description or []]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        out = []
        for row in rows:
            key = (*(row[k] for k in self.key_cols), row[self.ts_col])
            if key in self.sent:
                continue
            self.sent[key] = row[self.ts_col]
            self.watermark = max(self.watermark, row[self.ts_col])
            out.append({k: jsonable(v) for k, v in row.items()})
        horizon = self.watermark - timedelta(seconds=OVERLAP_S)
        self.sent = {k: v for k, v in self.sent.items() if v >= horizon}
        return out


def _event(name: str, data: dict[str, Any], event_id: int) -> bytes:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.get(
    "/stream",
    tags=["stream"],
    summary="Server-Sent Events of new readings and alert changes (scope read)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream(
    request: Request,
    site_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
    key: Annotated[str | None, Query(max_length=200, description="API key (for EventSource, which cannot send headers).")] = None,
) -> StreamingResponse:
    principal = await run_in_threadpool(authenticate, request, "read", allow_query=True)
    state = request.app.state
    with state.streams_lock:
        open_streams = state.open_streams.get(principal.key_id, 0)
        if open_streams >= state.max_streams_per_key:
            raise ApiProblem(
                429,
                f"API key {principal.key_id} already has {open_streams} open streams (limit {state.max_streams_per_key}); "
                "close one first",
                headers={"Retry-After": "10"},
            )
        state.open_streams[principal.key_id] = open_streams + 1

    def release() -> None:
        with state.streams_lock:
            state.open_streams[principal.key_id] -= 1

    try:
        return await _open_stream(request, site_id, release)
    except BaseException:
        release()
        raise


async def _open_stream(request: Request, site_id: str | None, release: Any) -> StreamingResponse:
    pool = request.app.state.pool
    interval_s: float = request.app.state.stream_poll_interval_s

    def db_now() -> datetime:
        with pool.connection() as conn:
            row = conn.execute("SELECT now()").fetchone()
            return row[0]  # type: ignore[index,no-any-return]

    start = await run_in_threadpool(db_now)
    readings = _Follower(_READINGS_SQL, "ingested_at", ("device_id", "ts"), start)
    alerts = _Follower(_ALERTS_SQL, "updated_at", ("alert_id",), start)

    async def events() -> AsyncIterator[bytes]:
        try:
            event_id = 0
            yield b"retry: 3000\n\n" + _event("ready", {"since": jsonable(start)}, event_id)
            last_sent = time.monotonic()
            while not await request.is_disconnected():
                for follower, name in ((readings, "reading"), (alerts, "alert")):
                    rows = await run_in_threadpool(follower.poll, pool, site_id)
                    for row in rows:
                        event_id += 1
                        yield _event(name, row, event_id)
                        last_sent = time.monotonic()
                if time.monotonic() - last_sent >= KEEPALIVE_S:
                    yield b": keep-alive\n\n"
                    last_sent = time.monotonic()
                await anyio.sleep(interval_s)
        finally:
            release()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
