"""API keys with scopes, and per-key rate limiting.

A key looks like ``hg_<key_id>_<secret>``; only its SHA-256 hex digest is stored (table
``api_keys``), so a leaked database does not leak usable keys, and the secret is shown once
when created. ``key_id`` (8 hex characters) is public: it names the key in logs, listings and
``revoke``.

Scopes: ``read`` (every GET), ``alerts:write`` (acknowledge / resolve alerts), ``admin``
(implies every scope).

Rate limiting is a token bucket per key held in process memory: capacity
``api_rate_limit_per_min`` requests, refilled continuously at that rate per 60 s. With several
API worker processes each has its own buckets (documented in docs/api.md). Failed
authentications (missing, malformed, unknown or revoked key) are counted per client address
and per presented key id (``failed_auth_per_min`` of :func:`heliosgrid.api.create_app`,
default 30): beyond it further *failures* get 429 instead of 401 until the bucket refills. A
valid key is never blocked by others' failures. Refused requests of a valid key (wrong scope)
count against its rate limit like any other.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from heliosgrid.api.problems import ApiProblem
from heliosgrid.api.scopes import SCOPES

_KEY_FORMAT = re.compile(r"^hg_(?P<key_id>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{20,128})$")
_NAME_FORMAT = re.compile(r"^[A-Za-z0-9 _.@:-]{1,100}$")
LAST_USED_UPDATE_INTERVAL_S = 60.0


class ApiKeyError(ValueError):
    """Invalid key-management input (name, scope, unknown key); message is user-facing."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    key_id: str
    name: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        """True when the key holds ``scope`` directly or through ``admin``."""
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class CreatedKey:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    secret: str


def hash_key(secret: str) -> str:
    """SHA-256 hex digest of the full key string."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Deduplicate and check scopes; raises :class:`ApiKeyError` naming the bad one."""
    out: list[str] = []
    for scope in scopes:
        if scope not in SCOPES:
            raise ApiKeyError(f"unknown scope {scope!r}; expected one of: {', '.join(SCOPES)}")
        if scope not in out:
            out.append(scope)
    if not out:
        raise ApiKeyError("at least one scope is required (--scope read)")
    return tuple(out)


def create_key(conn: psycopg.Connection, name: str, scopes: Iterable[str]) -> CreatedKey:
    """Create a key and return it with its secret (the only time the secret is available)."""
    if not _NAME_FORMAT.match(name):
        raise ApiKeyError("key name must be 1-100 characters: letters, digits, space and _ . @ : -")
    checked = validate_scopes(scopes)
    key_id = secrets.token_hex(4)
    secret = f"hg_{key_id}_{secrets.token_urlsafe(32)}"
    conn.execute(
        "INSERT INTO api_keys (key_id, name, key_hash, scopes) VALUES (%s, %s, %s, %s)",
        (key_id, name, hash_key(secret), list(checked)),
    )
    return CreatedKey(key_id=key_id, name=name, scopes=checked, secret=secret)


def list_keys(conn: psycopg.Connection) -> list[dict[str, object]]:
    """Every key (never the hash or secret), newest first."""
    cur = conn.execute(
        "SELECT key_id, name, scopes, created_at, revoked_at, last_used_at FROM api_keys ORDER BY created_at DESC"
    )
    cols = [c.name for c in cur.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def revoke_key(conn: psycopg.Connection, key_id: str) -> datetime:
    """Revoke a key by id; returns the revocation time. Revoking twice keeps the first time."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s RETURNING revoked_at",
        (key_id,),
    ).fetchone()
    if row is None:
        raise ApiKeyError(f"no API key with id {key_id!r} (see `heliosgrid apikey list`)")
    return row[0]  # type: ignore[no-any-return]


class TokenBucketLimiter:
    """Thread-safe token buckets keyed by key id.

    ``rate_per_min`` is both the bucket capacity (burst) and the refill rate per minute.
    ``clock`` returns seconds (monotonic); injectable for unit tests.
    """

    def __init__(self, rate_per_min: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_min < 1:
            raise ValueError("rate_per_min must be >= 1")
        self.capacity = float(rate_per_min)
        self.refill_per_s = rate_per_min / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` has a token (0.0 when it has one now), without taking it."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.refill_per_s

    def acquire(self, key: str) -> float:
        """Take one token. Returns 0.0 when allowed, else the seconds until a token is available."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.refill_per_s


def extract_key(request: Request) -> str | None:
    """The presented key: ``Authorization: Bearer`` or ``X-API-Key`` (never the URL: query
    strings end up in access logs and browser history; the SSE stream takes a stream token)."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    header = request.headers.get("x-api-key")
    if header:
        return header.strip()
    return None


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="heliosgrid"'}


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection for the duration of the request (shared by the key check
    and the route: FastAPI caches a dependency per request, so a request holds one connection)."""
    with request.app.state.pool.connection() as conn:
        yield conn


def refuse(request: Request, detail: str, key_id: str | None = None) -> ApiProblem:
    """Count a failed authentication against the client address and, for a well-formed key,
    against its public ``key_id`` prefix; 429 once either is over ``failed_auth_per_min``, else 401.

    Only *failures* are counted and only failures are blocked: a valid key is never refused
    because others failed behind the same address (NAT, proxy) or guessed at its key id."""
    state = request.app.state
    buckets = [f"client:{request.client.host if request.client else 'unknown'}"]
    if key_id is not None:
        buckets.append(f"key:{key_id}")
    wait_s = max(state.auth_failures.acquire(b) for b in buckets)
    if wait_s > 0:
        retry = max(1, math.ceil(wait_s))
        return ApiProblem(429, f"too many failed authentications from this address or for this key id; retry in {retry} s",
                          headers={"Retry-After": str(retry)})
    return ApiProblem(401, detail, headers=_CHALLENGE)


def admit(request: Request, principal: Principal, scope: str) -> Principal:
    """Rate-limit ``principal`` (every request counts, refused ones too), then check ``scope``."""
    state = request.app.state
    wait_s = state.limiter.acquire(principal.key_id)
    if wait_s > 0:
        retry = max(1, math.ceil(wait_s))
        raise ApiProblem(
            429,
            f"rate limit of {state.settings.api_rate_limit_per_min} requests per minute exceeded for key "
            f"{principal.key_id}; retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )
    if not principal.has(scope):
        raise ApiProblem(403, f"API key {principal.key_id} lacks the '{scope}' scope needed for this operation")
    return principal


def _touch(request: Request, conn: psycopg.Connection, key_id: str) -> None:
    """Record ``last_used_at`` at most once per :data:`LAST_USED_UPDATE_INTERVAL_S` per key."""
    state = request.app.state
    now = time.monotonic()
    if now - state.last_used.get(key_id, -math.inf) >= LAST_USED_UPDATE_INTERVAL_S:
        state.last_used[key_id] = now
        conn.execute("UPDATE api_keys SET last_used_at = now() WHERE key_id = %s", (key_id,))


def authenticate(request: Request, scope: str, *, conn: psycopg.Connection | None = None) -> Principal:
    """Check the key, its rate limit and its scope; raise :class:`ApiProblem` otherwise.

    Uses ``conn`` when given (the request's connection), else borrows one from the pool."""
    presented = extract_key(request)
    if not presented:
        if "key" in request.query_params:
            raise refuse(request, "API keys are not accepted in the URL (query strings end up in logs); send "
                         "'Authorization: Bearer <key>' or, for /v1/stream, a token from POST /v1/stream/token")
        raise refuse(request, "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    match = _KEY_FORMAT.match(presented)
    if not match:
        raise refuse(request, "invalid API key")
    with request.app.state.pool.connection() if conn is None else nullcontext(conn) as conn:
        row = conn.execute(
            "SELECT key_id, name, scopes, revoked_at FROM api_keys WHERE key_hash = %s", (hash_key(presented),)
        ).fetchone()
        if row is None:
            raise refuse(request, "invalid API key", match["key_id"])
        key_id, name, scopes, revoked_at = row
        if revoked_at is not None:
            raise refuse(request, f"API key {key_id} was revoked", key_id)
        _touch(request, conn, key_id)
    return admit(request, Principal(key_id=key_id, name=name, scopes=frozenset(scopes)), scope)


def key_active(conn: psycopg.Connection, key_id: str) -> bool:
    """True while the key exists and is not revoked."""
    return conn.execute("SELECT 1 FROM api_keys WHERE key_id = %s AND revoked_at IS NULL", (key_id,)).fetchone() is not None


def require(scope: str) -> Callable[..., Principal]:
    """FastAPI dependency: the caller must hold ``scope``."""

    def dependency(request: Request, conn: Annotated[psycopg.Connection, Depends(get_conn)]) -> Principal:
        return authenticate(request, scope, conn=conn)

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
