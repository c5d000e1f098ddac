"""Short-lived, stream-only tokens, so that no long-lived API key ever travels in a URL.

The browser's ``EventSource`` cannot send headers, so the dashboard asks
``POST /v1/stream/token`` (with its key in the ``Authorization`` header) for a token and
opens ``/v1/stream?token=…``. A token looks like ``hgst_<key_id>_<expires_unix>_<mac>``:

- it opens ``/v1/stream`` only (every other endpoint refuses it: it is not a key);
- it expires ``api_stream_token_ttl_s`` after issue (default 60 s); an open stream outlives it
  but re-checks its key every ``api_stream_key_recheck_s`` and ends when the key is revoked;
- ``mac`` = HMAC-SHA256 over ``key_id`` and expiry, keyed with the key's stored SHA-256 digest,
  so tokens need no server state, work across API workers, and die with their key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from contextlib import nullcontext
from dataclasses import dataclass

import psycopg
from fastapi import Request

from heliosgrid.api.auth import Principal, admit, hash_key, refuse

_TOKEN_FORMAT = re.compile(r"^hgst_(?P<key_id>[0-9a-f]{8})_(?P<exp>[0-9]{1,12})_(?P<mac>[A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class StreamToken:
    token: str
    expires_unix: int


def _mac(key_hash: str, key_id: str, expires_unix: int) -> str:
    digest = hmac.new(key_hash.encode(), f"stream:{key_id}:{expires_unix}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(presented_key: str, key_id: str, ttl_s: int, now_unix: float | None = None) -> StreamToken:
    """A token for ``key_id`` (whose full key is ``presented_key``) valid for ``ttl_s`` seconds."""
    expires = int(now_unix if now_unix is not None else time.time()) + ttl_s
    return StreamToken(f"hgst_{key_id}_{expires}_{_mac(hash_key(presented_key), key_id, expires)}", expires)


def authenticate_token(request: Request, token: str, scope: str, *, conn: psycopg.Connection | None = None) -> Principal:
    """The principal behind a valid, unexpired token of an unrevoked key; 401/429 otherwise
    (failures are counted like failed key checks)."""
    match = _TOKEN_FORMAT.match(token)
    if not match:
        raise refuse(request, "invalid stream token; get one from POST /v1/stream/token")
    key_id, expires = match["key_id"], int(match["exp"])
    if expires < time.time():
        raise refuse(request, "stream token expired; get a new one from POST /v1/stream/token", key_id)
    with request.app.state.pool.connection() if conn is None else nullcontext(conn) as conn:
        row = conn.execute(
            "SELECT key_hash, name, scopes, revoked_at FROM api_keys WHERE key_id = %s", (key_id,)
        ).fetchone()
    if row is None or not hmac.compare_digest(_mac(row[0], key_id, expires), match["mac"]):
        raise refuse(request, "invalid stream token; get one from POST /v1/stream/token", key_id)
    if row[3] is not None:
        raise refuse(request, f"API key {key_id} was revoked", key_id)
    return admit(request, Principal(key_id=key_id, name=row[1], scopes=frozenset(row[2])), scope)
