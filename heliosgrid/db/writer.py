"""Batch writer for the ingest path: readings upsert, quarantine rows, heartbeats.

Every function works inside the caller's transaction and never commits: the consumer writes a
batch's readings, its quarantine rows and its heartbeat in ONE transaction, commits it, and only
then commits the Kafka offsets (at-least-once delivery, see ADR 0015).

Readings are written idempotently, keyed on ``(device_id, ts)``:

* the batch is de-duplicated first (per ``(device_id, ts)`` the reading with the highest
  ``seq`` wins — a producer retry or a re-delivered message carries the same ``seq``);
* the fast path streams the rows with binary ``COPY`` into a session-local staging table and
  upserts them with one ``INSERT … SELECT … ON CONFLICT (device_id, ts) DO UPDATE``;
* the fallback path exists only for PGlite+TimescaleDB (WASM, no ``COPY FROM STDIN``; the
  test-suite fallback on machines without a native TimescaleDB): the columns go as arrays and
  are upserted ``FROM unnest(...)`` with the same conflict rule. It is chosen by a capability
  check made once per connection (:func:`choose_write_method`); every real server — PostgreSQL
  and native TimescaleDB alike — takes COPY, so the fallback is never on a real server's hot path.

An existing row is only rewritten when the incoming one has a higher ``seq``, or the same
``seq`` with different values: re-delivering an identical batch changes nothing (no dead
tuples, no spurious rollup invalidations).

On the plain-PostgreSQL backend ``readings`` is range-partitioned by day and the partitions a
batch needs are created first (``helios_ensure_partitions``; one call per distinct UTC day, so
a single very late reading never creates a run of empty partitions).
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import adapt, pq
from psycopg._copy_base import BinaryFormatter  # the formatter of Copy.write_row (pinned in constraints.txt)
from psycopg.pq import TransactionStatus

from heliosgrid.contract import MEASURE_FIELDS, ReadingV1
from heliosgrid.db import rollups
from heliosgrid.db.connection import is_pglite

WriteMethod = Literal["copy", "unnest"]

READING_COLUMNS: tuple[str, ...] = ("device_id", "ts", "site_id", *MEASURE_FIELDS, "inverter_status", "seq")
"""Columns written for each reading, in COPY / unnest order (``ingested_at`` defaults to now())."""

_PG_TYPES: tuple[str, ...] = (
    "text",
    "timestamptz",
    "text",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "text",
    "int8",
)

ReadingRow = tuple[str, datetime, str, float | None, float | None, float | None, float | None,
                   float | None, float | None, str | None, int]

_STAGE = "_helios_readings_stage"
_COLS = ", ".join(READING_COLUMNS)
_VALUE_COLS = [c for c in READING_COLUMNS if c not in ("device_id", "ts", "seq")]
_UPSERT_TAIL = (
    " ON CONFLICT (device_id, ts) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_VALUE_COLS, "seq"))
    + ", ingested_at = now()"
    + " WHERE EXCLUDED.seq > readings.seq OR (EXCLUDED.seq = readings.seq AND ("
    + ", ".join(f"readings.{c}" for c in _VALUE_COLS)
    + ") IS DISTINCT FROM ("
    + ", ".join(f"EXCLUDED.{c}" for c in _VALUE_COLS)
    + "))"
)
_COPY_UPSERT = f"INSERT INTO readings ({_COLS}) SELECT {_COLS} FROM {_STAGE}" + _UPSERT_TAIL
_UNNEST_UPSERT = (
    f"INSERT INTO readings ({_COLS}) SELECT * FROM unnest("
    + ", ".join(f"%s::{t}[]" for t in _PG_TYPES)
    + ")"
    + _UPSERT_TAIL
)

QUARANTINE_COLUMNS: tuple[str, ...] = (
    "source_topic",
    "source_partition",
    "source_offset",
    "message_key",
    "raw_payload",
    "reason_code",
    "reason_detail",
)


@dataclass(frozen=True)
class WriteResult:
    """Outcome of one :func:`write_readings` call.

    ``rows_received`` readings came in; ``duplicates_in_batch`` of them were dropped by the
    in-batch de-duplication; ``rows_upserted`` rows were inserted or changed (re-delivered
    identical rows count as 0); ``method`` is the write path used.
    """

    rows_received: int
    duplicates_in_batch: int
    rows_upserted: int
    method: WriteMethod

    @property
    def rows_unique(self) -> int:
        """Distinct ``(device_id, ts)`` pairs in the batch."""
        return self.rows_received - self.duplicates_in_batch


@dataclass(frozen=True)
class QuarantineRow:
    """One rejected message: where it came from, its raw bytes and why it was refused."""

    source_topic: str
    source_partition: int
    source_offset: int
    message_key: str | None
    raw_payload: bytes
    reason_code: str
    reason_detail: str


def dedup_readings(readings: Iterable[ReadingV1]) -> list[ReadingV1]:
    """Keep one reading per ``(device_id, ts)``: the one with the highest ``seq``.

    Ties (same ``seq``) keep the later one in input order (a re-sent message is identical).
    Output order is first appearance of each key, so it is deterministic.
    """
    best: dict[tuple[str, datetime], ReadingV1] = {}
    for r in readings:
        key = (r.device_id, r.ts)
        prev = best.get(key)
        if prev is None or r.seq >= prev.seq:
            best[key] = r
    return list(best.values())


def reading_row(r: ReadingV1) -> ReadingRow:
    """The column tuple of one reading, in :data:`READING_COLUMNS` order."""
    return (
        r.device_id,
        r.ts,
        r.site_id,
        r.ghi_w_m2,
        r.poa_w_m2,
        r.ambient_temp_c,
        r.module_temp_c,
        r.dc_power_kw,
        r.ac_power_kw,
        r.inverter_status,
        r.seq,
    )


_backend_cache: weakref.WeakKeyDictionary[psycopg.Connection[Any], str] = weakref.WeakKeyDictionary()
_method_cache: weakref.WeakKeyDictionary[psycopg.Connection[Any], WriteMethod] = weakref.WeakKeyDictionary()


def database_backend(conn: psycopg.Connection[Any]) -> str:
    """``'timescaledb'`` or ``'postgres'`` as recorded by the migration runner (cached per connection)."""
    cached = _backend_cache.get(conn)
    if cached is None:
        row = conn.execute("SELECT value FROM helios_meta WHERE key = 'backend'").fetchone()
        if row is None:
            raise RuntimeError("database is not migrated (no backend in helios_meta): run `heliosgrid db migrate`")
        cached = str(row[0])
        _backend_cache[conn] = cached
    return cached


def choose_write_method(conn: psycopg.Connection[Any]) -> WriteMethod:
    """Capability check, cached per connection: ``'copy'`` on every real server (PostgreSQL, native
    TimescaleDB); ``'unnest'`` only on PGlite, which cannot stream ``COPY FROM STDIN``."""
    cached = _method_cache.get(conn)
    if cached is None:
        cached = "unnest" if is_pglite(conn) else "copy"
        _method_cache[conn] = cached
    return cached


def _ensure_partitions(conn: psycopg.Connection[Any], rows: Sequence[ReadingRow]) -> None:
    stamps = {r[1] for r in rows}  # few distinct stamps per batch: derive the days from those
    days = sorted({datetime(t.year, t.month, t.day, tzinfo=UTC) for t in stamps})
    conn.execute(
        "SELECT helios_ensure_partitions('readings', d, d) FROM unnest(%s::timestamptz[]) AS d",
        (days,),
    )


@dataclass(frozen=True)
class CopyRows:
    """De-duplicated rows with their binary ``COPY`` stream already encoded (:func:`encode_copy_rows`).

    The consumer's polling thread builds it while the writer thread writes the previous batch, so
    the writer only sends bytes (ADR 0280). ``payload`` is exactly what ``Copy.write_row`` would
    stream for ``rows`` (signature, rows, trailer; UTF-8 text).
    """

    rows: Sequence[ReadingRow]
    payload: bytes


def encode_copy_rows(rows: Sequence[ReadingRow]) -> CopyRows:
    """Encode ``rows`` (:data:`READING_COLUMNS` order) as a complete binary COPY stream.

    Same formatter and dumpers as ``Copy.write_row`` after ``set_types(_PG_TYPES)`` (psycopg's
    default adapters, UTF-8 text); no connection needed, safe in any thread.
    """
    tx = adapt.Transformer(psycopg.adapters)
    types = psycopg.adapters.types
    tx.set_dumper_types([types.get_oid(t) for t in _PG_TYPES], pq.Format.BINARY)
    formatter = BinaryFormatter(tx)
    write_row = formatter.write_row
    parts = [write_row(row) for row in rows]  # b"" until a 32 KiB block fills
    parts.append(formatter.end())
    return CopyRows(rows, b"".join(parts))


_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ("
    + ", ".join(f"{c} {t}" for c, t in zip(READING_COLUMNS, _PG_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)  # session-local staging table, emptied at every commit; created once per session


def _stream_into_stage(cur: psycopg.Cursor[Any], rows: Sequence[ReadingRow] | CopyRows) -> None:
    payload = rows.payload if isinstance(rows, CopyRows) and cur.connection.info.encoding == "utf-8" else None
    with cur.copy(f"COPY {_STAGE} ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
        if payload is not None:
            copy.write(payload)
        else:
            copy.set_types(list(_PG_TYPES))
            for row in rows.rows if isinstance(rows, CopyRows) else rows:
                copy.write_row(row)


def _copy_upsert(conn: psycopg.Connection[Any], rows: Sequence[ReadingRow] | CopyRows) -> int:
    with conn.cursor() as cur:
        cur.execute(_CREATE_STAGE)
        cur.execute(f"TRUNCATE {_STAGE}")
        _stream_into_stage(cur, rows)
        cur.execute(_COPY_UPSERT)
        return max(cur.rowcount, 0)


def _unnest_upsert(conn: psycopg.Connection[Any], rows: Sequence[ReadingRow]) -> int:
    columns: list[list[Any]] = [list(col) for col in zip(*rows, strict=True)]
    with conn.cursor() as cur:
        cur.execute(_UNNEST_UPSERT, columns)
        return max(cur.rowcount, 0)


def write_rows(
    conn: psycopg.Connection[Any], rows: Sequence[ReadingRow] | CopyRows, method: WriteMethod | None = None
) -> int:
    """Upsert pre-built, already de-duplicated rows (:data:`READING_COLUMNS` order); returns rows changed.

    Runs in the caller's transaction. ``method`` overrides the automatic choice. Plain rows are
    encoded while they stream; :class:`CopyRows` sends its pre-encoded stream (re-encoded only on
    a connection whose client encoding is not UTF-8; PGlite's unnest path takes its rows).
    """
    plain = rows.rows if isinstance(rows, CopyRows) else rows
    if not plain:
        return 0
    if database_backend(conn) == "postgres":
        _ensure_partitions(conn, plain)
    chosen = method or choose_write_method(conn)
    return _copy_upsert(conn, rows) if chosen == "copy" else _unnest_upsert(conn, plain)


def dedup_rows(rows: Iterable[ReadingRow]) -> list[ReadingRow]:
    """:func:`dedup_readings` on row tuples: one row per ``(device_id, ts)``, highest ``seq`` wins.

    Ties keep the later row; output order is first appearance of each key.
    """
    best: dict[tuple[str, datetime], ReadingRow] = {}
    get = best.get
    for r in rows:
        key = (r[0], r[1])
        prev = get(key)
        if prev is None or r[10] >= prev[10]:
            best[key] = r
    return list(best.values())


def write_reading_rows(
    conn: psycopg.Connection[Any], rows: Sequence[ReadingRow], method: WriteMethod | None = None
) -> WriteResult:
    """De-duplicate and upsert reading rows (:data:`READING_COLUMNS` order) in the caller's transaction.

    The consumer's path: rows come straight from the decoder, no model objects. Idempotent:
    writing the same batch twice leaves the table as after the first write. Raises
    :class:`psycopg.Error` on database failure (the caller rolls back and retries).
    """
    unique = dedup_rows(rows)
    chosen: WriteMethod = method or (choose_write_method(conn) if unique else "copy")
    upserted = write_rows(conn, unique, chosen)
    return WriteResult(
        rows_received=len(rows),
        duplicates_in_batch=len(rows) - len(unique),
        rows_upserted=upserted,
        method=chosen,
    )


BatchTail = Callable[[psycopg.Connection[Any]], None]
"""Statements sent after the upsert in :func:`write_batch`'s transaction (pipelined: no results)."""


def write_batch(conn: psycopg.Connection[Any], rows: Sequence[ReadingRow] | CopyRows,
                tail: BatchTail | None = None) -> int:
    """ONE transaction: upsert de-duplicated ``rows``, run ``tail`` (quarantine, heartbeat), commit.

    Returns the rows changed. ``conn`` is in autocommit mode with no transaction open. With COPY
    (every real server) it takes four round trips on either backend: ``BEGIN`` with the partition
    and staging set-up, the COPY (start, end), then the upsert, ``tail``'s statements and ``COMMIT``;
    the two groups go in libpq pipeline mode (COPY itself cannot). Statements run in ``tail``
    return no results (pipeline mode). Any error rolls the transaction back, then propagates.
    Otherwise (PGlite's unnest path, no rows) the same in ``conn.transaction()``. The consumer's
    batches and the ingest bench's COPY baseline both write through here (ADR 0280).
    """
    plain = rows.rows if isinstance(rows, CopyRows) else rows
    if not plain or not conn.autocommit or choose_write_method(conn) != "copy":
        with conn.transaction():
            changed = write_rows(conn, rows)
            if tail is not None:
                tail(conn)
        return changed
    postgres = database_backend(conn) == "postgres"
    try:
        with conn.cursor() as cur:
            with conn.pipeline():
                cur.execute("BEGIN")
                if postgres:
                    _ensure_partitions(conn, plain)
                cur.execute(_CREATE_STAGE)
                cur.execute(f"TRUNCATE {_STAGE}")
            _stream_into_stage(cur, rows)
            with conn.pipeline():
                cur.execute(_COPY_UPSERT)
                if tail is not None:
                    tail(conn)
                conn.execute("COMMIT")
            return max(cur.rowcount, 0)
    except BaseException:
        if not conn.closed and conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        raise


def write_readings(
    conn: psycopg.Connection[Any], readings: Sequence[ReadingV1], method: WriteMethod | None = None
) -> WriteResult:
    """De-duplicate and upsert ``readings`` (model objects) in the caller's transaction.

    Same as :func:`write_reading_rows` on ``[reading_row(r) for r in readings]``.
    """
    return write_reading_rows(conn, [reading_row(r) for r in readings], method)


def write_quarantine(conn: psycopg.Connection[Any], rows: Sequence[QuarantineRow]) -> int:
    """Insert rejected messages into ``quarantine``; a re-delivered one (same topic/partition/offset)
    is ignored. Returns the number of new rows. Runs in the caller's transaction."""
    if not rows:
        return 0
    columns: list[list[Any]] = [
        [r.source_topic for r in rows],
        [r.source_partition for r in rows],
        [r.source_offset for r in rows],
        [r.message_key for r in rows],
        [r.raw_payload for r in rows],
        [r.reason_code for r in rows],
        [r.reason_detail for r in rows],
    ]
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)}) "
            "SELECT * FROM unnest(%s::text[], %s::int4[], %s::int8[], %s::text[], %s::bytea[], %s::text[], %s::text[]) "
            "ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING",
            columns,
        )
        return max(cur.rowcount, 0)


HeartbeatStatus = Literal["ok", "degraded", "stopping", "failed"]


def write_heartbeat(
    conn: psycopg.Connection[Any],
    component: str,
    instance: str,
    status: HeartbeatStatus,
    details: dict[str, Any] | None = None,
) -> None:
    """Upsert the liveness row of one component instance (``last_beat_at = now()``)."""
    conn.execute(
        "INSERT INTO heartbeats (component, instance, last_beat_at, status, details) "
        "VALUES (%s, %s, now(), %s, %s::jsonb) "
        "ON CONFLICT (component, instance) DO UPDATE SET last_beat_at = now(), status = EXCLUDED.status, "
        "details = EXCLUDED.details",
        (component, instance, status, json.dumps(details or {}, default=str)),
    )


def refresh_rollups(conn: psycopg.Connection[Any]) -> int:
    """Incremental rollup refresh on the plain-PostgreSQL backend (no-op on TimescaleDB, whose
    continuous aggregates are refreshed by their policies). Returns the number of 15-minute
    buckets recomputed. ``conn`` must not have a transaction open (see
    :func:`heliosgrid.db.rollups.refresh_rollups`)."""
    if database_backend(conn) != "postgres":
        return 0
    result = rollups.refresh_rollups(conn)
    return int(result.buckets_recomputed or 0)
