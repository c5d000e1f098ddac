"""Rollup refresh, retention enforcement and partition upkeep on both storage backends.

Stable API used by the ingest writer (``heliosgrid/db/writer.py``), the Airflow housekeeping
DAG and the ``heliosgrid db refresh`` / ``heliosgrid retention apply`` commands:

* :func:`ensure_partitions` — create missing day partitions before writing raw rows
  (plain PostgreSQL; a no-op on TimescaleDB, which creates chunks itself);
* :func:`refresh_rollups` — bring ``readings_15m`` → ``readings_1h`` → ``readings_1d`` up to
  date;
* :func:`apply_retention` — drop data older than the retention policies now (on TimescaleDB
  the background jobs do this by themselves; this runs them at once for operators);
* :func:`policy_job_status` — the TimescaleDB policy jobs and their last run, so supervision can
  report failed jobs.

All functions take an open psycopg connection and leave it as they found it. Functions that
must run outside a transaction (TimescaleDB's ``refresh_continuous_aggregate``) switch an idle
connection to autocommit for the call and refuse a connection with an open transaction.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg.pq import TransactionStatus

ROLLUP_LEVELS: Final[tuple[tuple[str, timedelta], ...]] = (
    ("readings_15m", timedelta(minutes=15)),
    ("readings_1h", timedelta(hours=1)),
    ("readings_1d", timedelta(days=1)),
)
"""Rollups in refresh order (each is built from the previous one) with their bucket width."""

DEFAULT_REFRESH_LOOKBACK: Final[timedelta] = timedelta(days=7)
"""Refresh window used on TimescaleDB when neither ``start`` nor a cagg policy gives one."""

_EPOCH: Final[datetime] = datetime(2000, 1, 3, tzinfo=UTC)  # time_bucket's default origin (a Monday)

_backend_cache: weakref.WeakKeyDictionary[psycopg.Connection, str] = weakref.WeakKeyDictionary()


class RollupError(RuntimeError):
    """A refresh/retention call cannot run as asked; the message says why."""


@dataclass(frozen=True)
class RefreshResult:
    """What :func:`refresh_rollups` did.

    ``buckets_recomputed`` is the number of (device, 15-min bucket) pairs recomputed on plain
    PostgreSQL (``None`` on TimescaleDB, which does not report it); ``windows`` maps each rollup
    to the [start, end) window refreshed on TimescaleDB (empty on plain PostgreSQL, whose
    refresh is driven by the invalidation log and has no window).
    """

    backend: str
    buckets_recomputed: int | None
    windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class DroppedData:
    """One partition (PostgreSQL) or chunk (TimescaleDB) removed by :func:`apply_retention`."""

    relation: str
    dropped: str


def backend_of(conn: psycopg.Connection) -> str:
    """``'timescaledb'`` or ``'postgres'`` as recorded by the migrations (cached per connection)."""
    cached = _backend_cache.get(conn)
    if cached is not None:
        return cached
    from heliosgrid.db.migrate import recorded_backend

    backend = recorded_backend(conn)
    if backend is None:
        raise RollupError("the database is not initialised: run `heliosgrid db migrate` first")
    _backend_cache[conn] = backend
    return backend


@contextmanager
def _outside_transaction(conn: psycopg.Connection) -> Iterator[None]:
    """Run the body in autocommit mode; refuses when the caller has a transaction open."""
    if conn.autocommit:
        yield
        return
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise RollupError(
            "refresh/retention must run outside a transaction: commit or roll back first "
            "(TimescaleDB refuses refresh_continuous_aggregate inside a transaction block)"
        )
    conn.autocommit = True
    try:
        yield
    finally:
        conn.autocommit = False


def _floor(ts: datetime, width: timedelta) -> datetime:
    return _EPOCH + ((ts - _EPOCH) // width) * width


def _ceil(ts: datetime, width: timedelta) -> datetime:
    floored = _floor(ts, width)
    return floored if floored == ts else floored + width


def _aware(ts: datetime, name: str) -> datetime:
    if ts.tzinfo is None:
        raise RollupError(f"{name} must be timezone-aware (got naive {ts.isoformat()})")
    return ts.astimezone(UTC)


def ensure_partitions(conn: psycopg.Connection, relation: str, min_ts: datetime, max_ts: datetime) -> int:
    """Create the missing partitions of ``relation`` covering [``min_ts``, ``max_ts``].

    Plain PostgreSQL: calls ``helios_ensure_partitions`` (one partition per UTC day for
    ``readings``, per month for the 15-min/hourly rollups, per year for the daily rollup);
    cheap when they exist. TimescaleDB creates chunks on insert, so this returns 0 there.
    Call it before inserting a batch whose timestamps span [min_ts, max_ts] (tz-aware). Runs in
    the caller's transaction (if any). Returns the number of partitions created.
    """
    min_ts, max_ts = _aware(min_ts, "min_ts"), _aware(max_ts, "max_ts")
    if max_ts < min_ts:
        raise RollupError(f"max_ts {max_ts.isoformat()} is before min_ts {min_ts.isoformat()}")
    if backend_of(conn) == "timescaledb":
        return 0
    row = conn.execute("SELECT helios_ensure_partitions(%s, %s, %s)", (relation, min_ts, max_ts)).fetchone()
    return int(row[0]) if row else 0


def _cagg_start_offsets(conn: psycopg.Connection) -> dict[str, timedelta]:
    rows = conn.execute(
        """
        SELECT hypertable_name, (config ->> 'start_offset')::interval
        FROM timescaledb_information.jobs
        WHERE proc_name = 'policy_refresh_continuous_aggregate' AND config ? 'start_offset'
        """
    ).fetchall()
    return {str(name): offset for name, offset in rows if offset is not None}


def refresh_rollups(
    conn: psycopg.Connection, start: datetime | None = None, end: datetime | None = None
) -> RefreshResult:
    """Bring the 15-min, hourly and daily rollups up to date, in that order.

    * plain PostgreSQL: ``SELECT helios_refresh_rollups()`` recomputes exactly the buckets whose
      raw rows changed since the last refresh (the invalidation log written by the readings
      triggers), whatever their age; ``start``/``end`` are not needed and ignored.
    * TimescaleDB: ``CALL refresh_continuous_aggregate`` for each level over [start, end),
      widened to whole buckets of that level. Defaults: ``end`` = now, ``start`` = now minus the
      level's refresh-policy ``start_offset`` (7 days for 15 min, 8 days for 1 h, 35 days for 1
      day; :data:`DEFAULT_REFRESH_LOOKBACK` when no policy exists). Late data older than the
      window is picked up by passing an explicit ``start``.

    The connection must not have a transaction open (it is switched to autocommit for the call).
    """
    started = time.perf_counter()
    start = None if start is None else _aware(start, "start")
    end = None if end is None else _aware(end, "end")
    if start is not None and end is not None and end <= start:
        raise RollupError(f"empty refresh window: end {end.isoformat()} is not after start {start.isoformat()}")
    backend = backend_of(conn)
    with _outside_transaction(conn):
        if backend == "postgres":
            row = conn.execute("SELECT helios_refresh_rollups()").fetchone()
            return RefreshResult(backend, int(row[0]) if row else 0, {}, time.perf_counter() - started)
        now = datetime.now(UTC)
        offsets = _cagg_start_offsets(conn) if start is None else {}
        windows: dict[str, tuple[datetime, datetime]] = {}
        for relation, width in ROLLUP_LEVELS:
            hi = end or now
            lo = start or hi - offsets.get(relation, DEFAULT_REFRESH_LOOKBACK)
            lo, hi = _floor(lo, width), _ceil(hi, width)
            if hi <= lo:
                hi = lo + width
            conn.execute("CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz)",
                         (relation, lo, hi))
            windows[relation] = (lo, hi)
        from heliosgrid.db.serving import refresh_serving_layer  # site/fleet rollups, KPI days (bi)

        refresh_serving_layer(conn, *windows["readings_15m"])
    return RefreshResult(backend, None, windows, time.perf_counter() - started)


def apply_retention(conn: psycopg.Connection, as_of: datetime | None = None) -> list[DroppedData]:
    """Enforce the retention policies now; returns the partitions/chunks dropped.

    Only whole partitions/chunks lying entirely before ``as_of - drop_after`` are dropped, so no
    row newer than that cutoff is ever touched (rows slightly older may survive until their
    partition is entirely old). Dropping raw data never alters rollups already computed.

    * plain PostgreSQL: ``helios_apply_retention(as_of)`` over the ``retention_policies`` table
      (``as_of`` defaults to now);
    * TimescaleDB without ``as_of``: every registered retention job is run now in this session
      (``CALL run_job``: the scheduler's own procedure and configuration, its failure raised here);
    * TimescaleDB with ``as_of``: ``drop_chunks`` per retention job with its ``drop_after``
      measured from ``as_of`` (the background jobs always measure from now).
    """
    backend = backend_of(conn)
    with _outside_transaction(conn):
        if backend == "postgres":
            cutoff = datetime.now(UTC) if as_of is None else _aware(as_of, "as_of")
            rows = conn.execute("SELECT relation, dropped_partition FROM helios_apply_retention(%s)", (cutoff,))
            return [DroppedData(str(rel), str(name)) for rel, name in rows.fetchall()]
        policies = conn.execute(
            """
            SELECT job_id, hypertable_name, (config ->> 'drop_after')::interval
            FROM timescaledb_information.jobs
            WHERE proc_name = 'policy_retention' AND hypertable_schema = 'public'
            ORDER BY hypertable_name
            """
        ).fetchall()
        if as_of is None:
            before = _chunks(conn)
            for job_id, _relation, _drop_after in policies:
                conn.execute("CALL run_job(%s)", (job_id,))
            after = _chunks(conn)
            return [DroppedData(rel, chunk) for chunk, rel in sorted(before.items()) if chunk not in after]
        cutoff = _aware(as_of, "as_of")
        dropped: list[DroppedData] = []
        for _job_id, relation, drop_after in policies:
            chunks = conn.execute(
                "SELECT drop_chunks(%s::regclass, older_than => %s::timestamptz)", (relation, cutoff - drop_after)
            ).fetchall()
            dropped.extend(DroppedData(str(relation), str(c[0])) for c in chunks)
    return dropped


def _chunks(conn: psycopg.Connection) -> dict[str, str]:
    """Every chunk of ``readings`` and the rollups: qualified chunk name → relation (cagg view name)."""
    rows = conn.execute(
        """
        SELECT c.chunk_schema || '.' || c.chunk_name, coalesce(a.view_name, c.hypertable_name)
        FROM timescaledb_information.chunks c
        LEFT JOIN timescaledb_information.continuous_aggregates a
          ON a.materialization_hypertable_schema = c.hypertable_schema
         AND a.materialization_hypertable_name = c.hypertable_name
        """
    ).fetchall()
    return {str(chunk): str(rel) for chunk, rel in rows}


def policy_job_status(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """TimescaleDB policy jobs with their last run (empty list on plain PostgreSQL).

    HeliosGrid's refresh/retention/compression policies plus TimescaleDB's own job-history
    retention; the telemetry job is left out (it only reports usage to Timescale).

    Each item: ``job_id``, ``proc_name`` (e.g. ``policy_retention``), ``relation``,
    ``schedule_interval`` (timedelta), ``config`` (dict), ``scheduled`` (bool),
    ``last_run_status`` (``'Success'``/``'Failed'``/``None`` when never run),
    ``last_run_started_at``, ``next_start``, ``total_runs``, ``total_failures`` and ``failed``
    (True when the last run failed).
    """
    if backend_of(conn) != "timescaledb":
        return []
    rows = conn.execute(
        """
        SELECT j.job_id, j.proc_name, j.hypertable_name, j.schedule_interval, j.config, j.scheduled,
               s.last_run_status,
               -- a job that never ran reports -infinity, which Python datetimes cannot hold
               CASE WHEN isfinite(s.last_run_started_at) THEN s.last_run_started_at END,
               CASE WHEN isfinite(s.next_start) THEN s.next_start END,
               coalesce(s.total_runs, 0), coalesce(s.total_failures, 0)
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
        -- telemetry only reports usage to Timescale (off in HeliosGrid's configs): not a data policy
        WHERE j.proc_name LIKE 'policy\\_%' AND j.proc_name <> 'policy_telemetry'
        ORDER BY j.job_id
        """
    ).fetchall()
    keys = ("job_id", "proc_name", "relation", "schedule_interval", "config", "scheduled",
            "last_run_status", "last_run_started_at", "next_start", "total_runs", "total_failures")
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        item["failed"] = item["last_run_status"] == "Failed"
        out.append(item)
    return out
