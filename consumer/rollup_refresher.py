"""The consumer's rollup refresh, off the write path: its own thread and connection.

On plain PostgreSQL the 15-min/hourly/daily rollups (and the site/fleet serving layer) are brought
up to date by ``helios_refresh_rollups()`` from the invalidation log the ``readings`` triggers
write; TimescaleDB's continuous-aggregate policies do it in a background worker there. Until
ADR 0220 the consumer ran that refresh inline in its writer thread every
``consumer_rollup_refresh_interval_s``: the writer (and so every batch queued behind it, and
their offset commits) waited for it. :class:`RollupRefresher` keeps the product behaviour — the
rollups trail the committed readings by at most about one interval plus one refresh, also after
traffic stops — but runs the refresh in its own thread on its own autocommit connection, like the
housekeeping DAG does (the SQL serialises concurrent refreshes with an advisory lock and claims
invalidations by deleting them, so it is safe beside the writer).

The writer calls :meth:`maybe_run` after every durable batch (non-blocking: it marks the
rollups dirty). The thread refreshes when they are dirty and the interval since its last refresh
has passed: ``interval_s`` when the consumer is caught up, ``backlog_interval_s`` while it drains
a backlog (:attr:`behind`: its batches come back full, or the log holds another full batch behind the
one just polled, ADR 0230). Each refresh has a fixed part (the hour,
day and fleet buckets and KPI days containing every dirty 15-min bucket are recomputed whole), so
refreshing every few seconds during a catch-up recomputes the same hours and days again and
again while the rollups trail by the backlog anyway; once caught up, the short interval applies
again. A failure is logged and retried at the next interval; the invalidation log keeps the
dirty buckets, so nothing is lost (housekeeping refreshes them too).

On TimescaleDB (ADR 0290) the same thread, with the same intervals and the same yielding to the
writer, materialises the newest buckets of the site and fleet 15-min aggregates, which serve
materialised rows only there (:func:`heliosgrid.db.serving.refresh_serving_tail`); the device
aggregates keep real-time aggregation and their policies. Both backends' serving layers then trail
the committed readings by about one interval plus one refresh.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from heliosgrid.db.connection import DatabaseUnavailable, open_connection
from heliosgrid.db.serving import refresh_serving_tail
from heliosgrid.db.writer import database_backend, refresh_rollups
from heliosgrid.settings import redact_url

log = logging.getLogger("heliosgrid.consumer")


class RollupRefresher:
    """Refresh the rollups (plain PostgreSQL) or the serving tail (TimescaleDB) at most every ``interval_s``
    seconds after writes (a thread)."""

    name = "rollup-refresh"

    def __init__(self, url: str, interval_s: float, backlog_interval_s: float | None = None,
                 writing: Callable[[], bool] | None = None) -> None:
        self.url = url
        self.writing = writing
        """True while the consumer's writer has batches in flight: a due refresh waits for them (at
        most ``interval_s`` longer), so derived data yields to ingest at the end of a catch-up."""
        self.interval_s = interval_s
        self.backlog_interval_s = max(interval_s, backlog_interval_s or interval_s)
        self.behind = False
        """Set by the consumer: True while it drains a backlog (full batches, or a full batch waiting behind)."""
        self.refreshes = 0
        """Refreshes completed (tests, metrics)."""
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread: threading.Thread | None = None
        self._last_run = float("-inf")
        self._deferred_since: float | None = None
        self._backend: str | None = None

    def start(self) -> None:
        """Open the connection and start the thread (both backends: see the module docstring).

        A database that cannot be reached now is tried again at the first refresh.
        """
        try:
            self._backend = database_backend(self._connection())
        except (psycopg.Error, DatabaseUnavailable) as exc:
            log.warning("rollup refresher: database not reachable yet (%s)", redact_url(str(exc)).strip())
            self._drop()
        # The first refresh is due one interval after start, like every later one: refreshing at the
        # first write would recompute the hours/days of one batch, then again an interval later
        # (at a start with a backlog, the backlog interval applies from the start too; ADR 0230).
        self._last_run = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="ingest-rollup-refresh", daemon=True)
        self._thread.start()

    def maybe_run(self) -> bool:
        """Rows were written: refresh within the interval. Never blocks; False (the refresh is not run here)."""
        self._dirty.set()
        return False

    def stop(self, timeout_s: float = 30.0) -> None:
        """End the thread (a refresh in progress is finished first) and close the connection."""
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._drop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            remaining_s = self._next_due() - time.monotonic()
            if remaining_s > 0:  # short waits: a consumer that catches up gets the short interval at once
                self._stop.wait(min(remaining_s, 0.5))
                continue
            if self._yield_to_writer():
                self._stop.wait(0.02)  # the writer is busy: refresh right after its batches are stored
                continue
            self._deferred_since = None
            if self._stop.is_set():
                return
            self._dirty.clear()
            self._last_run = time.monotonic()
            if not self._refresh():
                self._dirty.set()  # retried after the next interval

    def _yield_to_writer(self) -> bool:
        """A due refresh waits while the writer is busy, for at most ``interval_s`` since it became due."""
        if self.writing is None or not self.writing():
            return False
        now = time.monotonic()
        if self._deferred_since is None:
            self._deferred_since = now
        return now - self._deferred_since < self.interval_s

    def _next_due(self) -> float:
        return self._last_run + (self.backlog_interval_s if self.behind else self.interval_s)

    def _refresh(self) -> bool:
        try:
            conn = self._connection()
            if self._backend is None:
                self._backend = database_backend(conn)
            if self._backend == "postgres":
                refresh_rollups(conn)
            else:
                refresh_serving_tail(conn)
        except (psycopg.Error, DatabaseUnavailable) as exc:
            log.warning("rollup refresh failed (will retry): %s", redact_url(str(exc)).strip())
            self._drop()
            return False
        except Exception:  # the thread must outlive any one failure; the invalidation log keeps the buckets
            log.exception("rollup refresh failed unexpectedly (will retry)")
            self._drop()
            return False
        self.refreshes += 1
        return True

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = open_connection(self.url, autocommit=True, connect_timeout_s=5,
                                         application_name="heliosgrid-rollup-refresh")  # pg_stat_activity, bench
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
