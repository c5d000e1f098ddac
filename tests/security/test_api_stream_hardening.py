"""Issue 11 #1 and #5: the live stream cannot freeze, and it ends when its key is revoked."""

from __future__ import annotations

import time

import psycopg
import pytest
from api_seed import Seeded
from sse_client import SseListener

from heliosgrid.api.auth import create_key, revoke_key
from heliosgrid.db.connection import open_connection

pytestmark = pytest.mark.integration

BULK_ROWS = 1080  # one consumer catch-up transaction: more rows than one stream page (1000)


def _insert(conn: psycopg.Connection, site_id: str, first: int, count: int) -> None:
    """``count`` readings of site ``site_id`` in ONE transaction: they all share its now()."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO readings (device_id, site_id, ts, ac_power_kw, inverter_status, seq)
               SELECT %(site)s || '-' || (i %% 12), %(site)s, date_trunc('second', now()) - i * interval '1 second',
                      1.0, 'ok', i
               FROM generate_series(%(first)s::int, %(last)s::int) i""",
            {"site": site_id, "first": first, "last": first + count - 1},
        )


def test_stream_does_not_freeze_after_a_batch_larger_than_a_page(sec_api: str, sec_keys: dict[str, str],
                                                                 sec_seeded: Seeded) -> None:
    """Before the fix: 1,000 events, then none (the watermark sat on the batch's shared now())."""
    headers = {"X-API-Key": sec_keys["read"]}
    with (SseListener(sec_api + "/v1/stream", params={"site_id": "freeze"}, headers=headers) as sse,
          psycopg.connect(sec_seeded.url, autocommit=True) as conn):
        _insert(conn, "freeze", 0, BULK_ROWS)
        got = sse.collect("reading", BULK_ROWS, timeout_s=30)
        assert len(got) == BULK_ROWS
        _insert(conn, "freeze", 5000, 5)  # a later, ordinary transaction
        later = sse.collect("reading", 5, timeout_s=15)
    assert len(later) == 5, "the stream froze after the large batch"
    keys = {(r["device_id"], r["ts"]) for r in got + later}
    assert len(keys) == BULK_ROWS + 5  # each row once


def test_revoking_a_key_ends_its_open_stream(sec_api: str, sec_seeded: Seeded) -> None:
    """Before the fix the key was checked only when the stream opened: events kept coming."""
    with open_connection(sec_seeded.url, autocommit=True) as conn:
        key = create_key(conn, "soon-revoked", ["read"])
    with (SseListener(sec_api + "/v1/stream", params={"site_id": "revoke"}, headers={"X-API-Key": key.secret}) as sse,
          psycopg.connect(sec_seeded.url, autocommit=True) as conn):
        _insert(conn, "revoke", 0, 3)
        assert len(sse.collect("reading", 3, timeout_s=15)) == 3
        revoke_key(conn, key.key_id)
        revoked = sse.wait_for("revoked", timeout_s=15)
        assert key.key_id in revoked["detail"]
        assert sse.closed.wait(10), "the server kept the stream of a revoked key open"
        _insert(conn, "revoke", 100, 3)
    assert sse.collect("reading", 1, timeout_s=2) == []


def test_a_transaction_that_commits_late_is_still_delivered_once(sec_api: str, sec_keys: dict[str, str],
                                                                 sec_seeded: Seeded) -> None:
    """Rows stamped with an older now() than rows already streamed (their transaction started
    first but committed last) come through the overlap pass, once."""
    headers = {"X-API-Key": sec_keys["read"]}
    with (SseListener(sec_api + "/v1/stream", params={"site_id": "late"}, headers=headers) as sse,
          psycopg.connect(sec_seeded.url) as slow, psycopg.connect(sec_seeded.url, autocommit=True) as fast):
        slow.execute("INSERT INTO readings (device_id, site_id, ts, ac_power_kw, seq) "
                     "VALUES ('late-slow', 'late', date_trunc('second', now()), 1, 1)")  # now() = its start
        time.sleep(1.0)
        _insert(fast, "late", 0, 3)
        assert {r["device_id"] for r in sse.collect("reading", 3, timeout_s=15)} <= {f"late-{i}" for i in range(12)}
        time.sleep(1.0)  # the stream has moved past the fast rows
        slow.commit()
        late = sse.collect("reading", 1, timeout_s=15)
        assert [r["device_id"] for r in late] == ["late-slow"]
        assert sse.collect("reading", 1, timeout_s=3) == []  # nothing twice
