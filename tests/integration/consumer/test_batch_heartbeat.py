"""Batch transactions rewrite the consumer's heartbeat row at most once a second, or when its status
changes; idle beats always write (ADR 0230)."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from consumer.database import DatabaseSession

pytestmark = pytest.mark.integration


def _row(db: str, instance: str) -> tuple[str, str] | None:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT status, details->>'n' FROM heartbeats WHERE component = 'consumer' "
                           "AND instance = %s", (instance,)).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def test_batch_beats_are_throttled_but_status_changes_and_idle_beats_are_written(pg_db: str) -> None:
    instance = f"hb-{uuid.uuid4().hex[:6]}"
    session = DatabaseSession(pg_db, instance)
    try:
        conn = session.connection()
        for n in (1, 2):
            with conn.transaction():
                session.beat(conn, {"n": n}, min_interval_s=0.8)
        assert _row(pg_db, instance) == ("ok", "1")  # the second batch beat was within the interval

        session.mark_down()
        session.mark_up()  # after an outage the status is 'degraded': written at once
        with conn.transaction():
            session.beat(conn, {"n": 3}, min_interval_s=0.8)
        assert _row(pg_db, instance) == ("degraded", "3")

        time.sleep(0.9)
        with conn.transaction():
            session.beat(conn, {"n": 4}, min_interval_s=0.8)
        assert _row(pg_db, instance) == ("degraded", "4")

        assert session.beat_now({"n": 5})  # idle beats are never throttled
        assert _row(pg_db, instance) == ("degraded", "5")
    finally:
        session.close(None)
