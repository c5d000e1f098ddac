"""The consumer's database side: its connection, the device cache, outage bookkeeping.

* :class:`DatabaseSession` — one autocommit connection (re-opened after a failure), the device
  registry, the heartbeat row and the outage state: the first failure of an outage is noted, the
  first success after it is logged once ("database available again after N s") and the heartbeat
  says ``degraded`` for :data:`DEGRADED_FOR_S` afterwards.

The rollup refresh (plain PostgreSQL) runs in its own thread on its own connection:
:class:`consumer.rollup_refresher.RollupRefresher` (ADR 0220).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import psycopg

from consumer.retry import OUTAGE_ERRORS
from heliosgrid.db.connection import open_connection
from heliosgrid.db.writer import HeartbeatStatus, database_backend, write_heartbeat
from heliosgrid.ingest.batch import DeviceRegistry
from heliosgrid.settings import redact_url

log = logging.getLogger("heliosgrid.consumer")

HEARTBEAT_COMPONENT = "consumer"
DEGRADED_FOR_S = 60.0
"""After a database outage the heartbeat says 'degraded' for this long."""
BATCH_BEAT_MIN_INTERVAL_S = 1.0
"""Inside batch transactions the heartbeat row is rewritten at most this often (or when its status
changes): one fewer round trip and row update per batch under load (ADR 0230)."""


class DatabaseSession:
    """Connection, device registry, heartbeat and outage state of one consumer (see the module docstring)."""

    def __init__(self, url: str, instance: str) -> None:
        self.url = url
        self.instance = instance
        self.registry = DeviceRegistry()
        self.conn: psycopg.Connection[Any] | None = None
        self._down_since: float | None = None
        self._degraded_until = 0.0
        self._beat_at = float("-inf")
        self._beat_status: HeartbeatStatus | None = None

    def connection(self) -> psycopg.Connection[Any]:
        """The open connection (autocommit), opened now if there is none."""
        if self.conn is None or self.conn.closed:
            self.conn = open_connection(self.url, autocommit=True, connect_timeout_s=5,
                                         application_name="heliosgrid-consumer-writer")  # pg_stat_activity, bench
        return self.conn

    def connect(self) -> None:
        """Open the connection, check the database is migrated, load the device registry."""
        conn = self.connection()
        database_backend(conn)
        self.registry.load(conn)

    def drop(self) -> None:
        """Forget the connection after a failure (the next attempt opens a new one)."""
        if self.conn is not None and not self.conn.closed:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
        self.conn = None

    def close(self, final_beat: dict[str, Any] | None) -> None:
        """Write a last ``stopping`` heartbeat (when given) and close."""
        if final_beat is not None and self.conn is not None and not self.conn.closed:
            with contextlib.suppress(psycopg.Error), self.conn.transaction():
                write_heartbeat(self.conn, HEARTBEAT_COMPONENT, self.instance, "stopping", final_beat)
        self.drop()

    # ---- outage bookkeeping -------------------------------------------------------------------
    def mark_down(self) -> None:
        """A database attempt failed: note when the outage started."""
        if self._down_since is None:
            self._down_since = time.monotonic()

    def mark_up(self) -> None:
        """A database attempt succeeded: log the end of an outage once; 'degraded' for a while."""
        if self._down_since is not None:
            log.info("database available again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
            self._degraded_until = time.monotonic() + DEGRADED_FOR_S

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def status(self) -> HeartbeatStatus:
        return "degraded" if time.monotonic() < self._degraded_until else "ok"

    def beat(self, conn: psycopg.Connection[Any], details: dict[str, Any], min_interval_s: float = 0.0) -> None:
        """Upsert this consumer's heartbeat row in ``conn``'s current transaction.

        With ``min_interval_s`` the row is left as it is when it was written less than that long
        ago with the same status (a liveness row; its details trail by at most that long).
        """
        status, now = self.status(), time.monotonic()
        if status == self._beat_status and now - self._beat_at < min_interval_s:
            return
        write_heartbeat(conn, HEARTBEAT_COMPONENT, self.instance, status, details)
        self._beat_at, self._beat_status = now, status

    def beat_now(self, details: dict[str, Any]) -> bool:
        """An idle heartbeat in its own transaction; False (logged, outage noted) when the database is down."""
        try:
            conn = self.connection()
            with conn.transaction():
                self.beat(conn, details)
        except OUTAGE_ERRORS as exc:
            self.drop()
            self.mark_down()
            log.warning("heartbeat failed (database unavailable?): %s", redact_url(str(exc)).strip())
            return False
        self.mark_up()
        return True
