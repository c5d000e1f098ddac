"""Server-Sent Events: ``GET /v1/stream`` pushes new readings and alert changes.

The stream polls the database every ``poll_interval_s`` (default 1 s) for readings and alerts
after a keyset watermark: ``(ingested_at, device_id, ts)`` for readings, ``(updated_at,
alert_id)`` for alerts, ``MAX_BATCH`` rows a page. Because ``now()`` is the *transaction start*
time, one consumer transaction stamps all its rows with the same ``ingested_at`` (a catch-up
batch can hold many thousands), and a row committed late can carry a time a little older than
rows already sent. Each poll therefore makes two keyset passes: the rows after a cursor (the
last row read, by the full key: a batch larger than a page never stalls the stream), and the
late rows of the ``OVERLAP_S`` window before the cursor's time, dropping rows already sent, so
late rows are still delivered once. A poll sends at most about ``MAX_EVENTS_PER_POLL`` rows per
table; the rest follow on the next poll. Readings whose
measurement time is more than ``MAX_READING_AGE`` older than the watermark (bulk backfills)
are not streamed: clients reload history from ``/v1/rollups``.

Events (``event:`` field): ``ready`` once at subscription (``{"since": …}``), ``reading``
(one row of ``readings``), ``alert`` (one row of ``alerts``), ``revoked`` (the key was revoked;
the stream then ends); a ``: keep-alive`` comment every ``KEEPALIVE_S`` seconds. A database
outage does not end the stream: polls fail and are retried, and the watermark resumes after it.

Auth: the key in a header, or — for ``EventSource``, which cannot send headers — a short-lived
token from ``POST /v1/stream/token`` as ``?token=`` (:mod:`heliosgrid.api.stream_tokens`); a
long-lived key in the URL is refused. The key is re-checked every ``api_stream_key_recheck_s``.
A key may hold at most ``max_streams_per_key`` open streams (``create_app``, default 10; 429).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
import psycopg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from psycopg_pool import PoolTimeout
from starlette.concurrency import run_in_threadpool

from heliosgrid.api import models, stream_tokens
from heliosgrid.api.auth import Principal, authenticate, extract_key, key_active
from heliosgrid.api.formats import jsonable
from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.routers.common import ID_PATTERN, PREFIX, Reader, responses

OVERLAP_S = 5.0
KEEPALIVE_S = 15.0
MAX_BATCH = 1000
MAX_EVENTS_PER_POLL = 5000
MAX_READING_AGE = timedelta(days=2)

router = APIRouter(prefix=PREFIX)
log = logging.getLogger(__name__)

# Keyset page: rows after (%(since)s, %(after_device)s, %(after_ts)s) in (ingested_at, device_id, ts) order,
# ingested before %(until)s.
# ``ingested_at >= since`` repeats the bound on its own so the BRIN index on ingested_at serves it.
_READINGS_SQL = """
SELECT device_id, site_id, ts, ghi_w_m2, poa_w_m2, ambient_temp_c, module_temp_c, dc_power_kw, ac_power_kw,
       inverter_status, seq, ingested_at
FROM readings
WHERE ingested_at >= %(since)s AND ingested_at < %(until)s
  AND (ingested_at, device_id, ts) > (%(since)s, %(after_device)s::text, %(after_ts)s::timestamptz)
  AND ts > %(since)s - %(max_age)s
  AND (%(site_id)s::text IS NULL OR site_id = %(site_id)s)
ORDER BY ingested_at, device_id, ts
LIMIT %(limit)s
"""
_ALERTS_SQL = """
SELECT alert_id, site_id, device_id, source, fault_type, severity, state, started_at, last_seen_at, ended_at,
       title, energy_lost_kwh, revenue_lost, currency, recommended_action, acknowledged_by, acknowledged_at,
       resolved_by, resolved_at, updated_at
FROM alerts
WHERE updated_at >= %(since)s AND updated_at < %(until)s AND (updated_at, alert_id) > (%(since)s, %(after_id)s::bigint)
  AND (%(site_id)s::text IS NULL OR site_id = %(site_id)s)
ORDER BY updated_at, alert_id
LIMIT %(limit)s
"""
#: The first position of a page sequence: before every row with the watermark time.
_READINGS_START = {"after_device": "", "after_ts": "-infinity"}
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
_ALERTS_START = {"after_id": -(2**63)}


@dataclass
class _Follower:
    """Keyset watermark + overlap de-duplication for one table (not thread-shared).

    ``key_cols`` are the columns after ``ts_col`` in the keyset order; ``after`` maps a row to
    the page parameters that continue after it. ``cursor`` is the keyset position of the last
    row read in order; each poll reads (1) *late* rows: the overlap window up to the cursor's
    time, skipping rows already sent, then (2) *new* rows after the cursor. Rows of the cursor's
    own transaction are never re-read, so a huge transaction costs one pass, not one per poll."""

    query: str
    ts_col: str
    key_cols: tuple[str, ...]
    first: dict[str, Any]
    after: Callable[[dict[str, Any]], dict[str, Any]]
    floor: datetime  # the stream's start: nothing older is read
    watermark: datetime = field(init=False)
    cursor: dict[str, Any] = field(init=False)
    sent: dict[tuple[Any, ...], datetime] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.watermark = self.floor
        self.cursor = {"since": self.floor, **self.first}

    def _page(self, pool: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        with pool.connection() as conn:
            cur = conn.execute(self.query, params)
            names = [c.name for c in cur.description or []]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def _scan(self, pool: Any, params: dict[str, Any], out: list[dict[str, Any]], advance: bool) -> None:
        """Page from ``params`` until a short page or ``MAX_EVENTS_PER_POLL``; rows not sent yet
        go to ``out``; ``advance`` moves :attr:`cursor` along (the new-rows pass)."""
        while len(out) < MAX_EVENTS_PER_POLL:
            rows = self._page(pool, params)
            for row in rows:
                key = (*(row[k] for k in self.key_cols), row[self.ts_col])
                if key not in self.sent:
                    self.sent[key] = row[self.ts_col]
                    self.watermark = max(self.watermark, row[self.ts_col])
                    out.append({k: jsonable(v) for k, v in row.items()})
            if rows:
                params = {**params, "since": rows[-1][self.ts_col], **self.after(rows[-1])}
                if advance:
                    self.cursor = {"since": rows[-1][self.ts_col], **self.after(rows[-1])}
            if len(rows) < MAX_BATCH:
                return

    def poll(self, pool: Any, site_id: str | None) -> list[dict[str, Any]]:
        """New rows since the last poll, each once, in keyset order per pass (at most about
        ``MAX_EVENTS_PER_POLL``; the rest follow on the next poll)."""
        common = {"site_id": site_id, "limit": MAX_BATCH, "max_age": MAX_READING_AGE}
        since = max(self.floor, self.watermark - timedelta(seconds=OVERLAP_S))
        out: list[dict[str, Any]] = []
        if since < self.cursor["since"]:
            self._scan(pool, {**common, "since": since, **self.first, "until": self.cursor["since"]}, out, advance=False)
        self._scan(pool, {**common, **self.cursor, "until": _END_OF_TIME}, out, advance=True)
        horizon = self.watermark - timedelta(seconds=OVERLAP_S)
        self.sent = {k: v for k, v in self.sent.items() if v >= horizon}
        return out


def readings_follower(start: datetime) -> _Follower:
    return _Follower(_READINGS_SQL, "ingested_at", ("device_id", "ts"), _READINGS_START,
                     lambda r: {"after_device": r["device_id"], "after_ts": r["ts"]}, start)


def alerts_follower(start: datetime) -> _Follower:
    return _Follower(_ALERTS_SQL, "updated_at", ("alert_id",), _ALERTS_START, lambda r: {"after_id": r["alert_id"]}, start)


def _event(name: str, data: dict[str, Any], event_id: int) -> bytes:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.post(
    "/stream/token",
    tags=["stream"],
    responses=responses(models.StreamTokenOut, tabular=False),
    summary="A short-lived token that opens /v1/stream (for EventSource, which cannot send headers)",
)
def stream_token(request: Request, principal: Reader) -> JSONResponse:
    """Send the key in the ``Authorization`` header; the token opens ``/v1/stream?token=…`` only,
    for ``HELIOS_API_STREAM_TOKEN_TTL_S`` seconds (default 60), and dies with its key."""
    presented = extract_key(request)
    assert presented is not None  # Reader authenticated it
    ttl_s: int = request.app.state.settings.api_stream_token_ttl_s
    issued = stream_tokens.issue(presented, principal.key_id, ttl_s)
    expires_at = datetime.fromtimestamp(issued.expires_unix, UTC)
    return JSONResponse({"token": issued.token, "expires_at": jsonable(expires_at), "expires_in_s": ttl_s})


@router.get(
    "/stream",
    tags=["stream"],
    summary="Server-Sent Events of new readings and alert changes (scope read)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream(
    request: Request,
    site_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    token: Annotated[
        str | None,
        Query(max_length=200, description="Stream token from POST /v1/stream/token (EventSource cannot send headers)."),
    ] = None,
) -> StreamingResponse:
    if token is not None:
        principal = await run_in_threadpool(stream_tokens.authenticate_token, request, token, "read")
    else:
        principal = await run_in_threadpool(authenticate, request, "read")
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
        return await _open_stream(request, site_id, principal, release)
    except BaseException:
        release()
        raise


async def _open_stream(request: Request, site_id: str | None, principal: Principal, release: Any) -> StreamingResponse:
    pool = request.app.state.pool
    interval_s: float = request.app.state.stream_poll_interval_s
    recheck_s: float = request.app.state.settings.api_stream_key_recheck_s

    def db_now() -> datetime:
        with pool.connection() as conn:
            row = conn.execute("SELECT now()").fetchone()
            return row[0]  # type: ignore[index,no-any-return]

    def still_active() -> bool:
        with pool.connection() as conn:
            return key_active(conn, principal.key_id)

    start = await run_in_threadpool(db_now)
    followers = ((readings_follower(start), "reading"), (alerts_follower(start), "alert"))

    async def events() -> AsyncIterator[bytes]:
        try:
            event_id = 0
            yield b"retry: 3000\n\n" + _event("ready", {"since": jsonable(start)}, event_id)
            last_sent = last_check = time.monotonic()
            while not await request.is_disconnected():
                try:
                    if time.monotonic() - last_check >= recheck_s:
                        if not await run_in_threadpool(still_active):
                            yield _event("revoked", {"detail": f"API key {principal.key_id} was revoked"}, event_id + 1)
                            return
                        last_check = time.monotonic()
                    for follower, name in followers:
                        for row in await run_in_threadpool(follower.poll, pool, site_id):
                            event_id += 1
                            yield _event(name, row, event_id)
                            last_sent = time.monotonic()
                except (psycopg.OperationalError, PoolTimeout) as exc:
                    # Database restart or outage: keep the stream (and its watermark) and retry on
                    # the next poll; keep-alives tell the client the server is alive meanwhile.
                    log.warning("stream poll failed (retrying): %s", exc)
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
