"""The database transaction of one ingest batch, and what to do when the database refuses a row.

:func:`store_batch` runs ONE transaction (:func:`heliosgrid.db.writer.write_batch`): readings
upsert, quarantine rows, heartbeat; the device check against the registry comes first (done ahead
by :func:`prepare_batch` when the cached registry suffices). The caller commits offsets only after
it returns.

Errors fall in two classes (:func:`is_data_error`):

* **data errors** — ``DataError`` (e.g. a NUL character in text, a value out of a column's
  range) and ``IntegrityError`` (a constraint): the database refuses *some content*. Retrying the
  same batch would fail forever, so they are never treated as an outage. The batch is written
  again with the offending messages isolated by bisection under savepoints: each row the
  database refuses is quarantined on its own (reason ``db_rejected``, with the SQLSTATE and the
  server's message), and every other row of the batch is stored.
* everything else (connection lost, server shutting down, out of resources) propagates: the
  caller treats it as an outage and retries the whole batch (:mod:`consumer.retry`).

A quarantine row that the database refuses (its text is already NUL-free, see
:func:`heliosgrid.ingest.batch.db_text`) is retried once with every text field ASCII-escaped; the
raw payload is ``bytea`` and always fits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import psycopg

from heliosgrid.db.writer import (
    CopyRows,
    QuarantineRow,
    ReadingRow,
    WriteResult,
    choose_write_method,
    dedup_rows,
    encode_copy_rows,
    write_batch,
    write_quarantine,
    write_reading_rows,
)
from heliosgrid.ingest.batch import BatchOutcome, DecodedBatch, DeviceRegistry, SourceMessage, check_devices, reject_row

log = logging.getLogger("heliosgrid.ingest")

T = TypeVar("T")
Heartbeat = Callable[[psycopg.Connection[Any], BatchOutcome], None]
"""Writes the batch's heartbeat row inside its transaction."""


def is_data_error(exc: BaseException) -> bool:
    """True for errors about the data (never retried as an outage): DataError, IntegrityError."""
    return isinstance(exc, psycopg.DataError | psycopg.IntegrityError)


def _error_text(exc: BaseException) -> str:
    sqlstate = getattr(exc, "sqlstate", None) or "?"
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"database refused the row (SQLSTATE {sqlstate}): {first}"


@dataclass
class StoredBatch:
    """What one batch's transaction stored: the split (with database refusals added) and the upsert."""

    outcome: BatchOutcome
    result: WriteResult
    isolated: bool = False
    """True when a data error made the batch go through the isolating write."""


@dataclass
class PreparedBatch:
    """The CPU part of a batch's write, done ahead (by the consumer's polling thread, ADR 0280).

    ``outcome`` is :func:`check_devices` against the cached registry; ``copy`` its de-duplicated
    rows, COPY-encoded. :func:`store_batch` then only talks to the database.
    """

    outcome: BatchOutcome
    copy: CopyRows


def prepare_batch(decoded: DecodedBatch, registry: DeviceRegistry) -> PreparedBatch | None:
    """Check devices, de-duplicate and encode ``decoded`` now; None when the registry must be re-read
    first (stale, or a device it does not know): :func:`store_batch` does it all then."""
    sites = registry.cached_sites_for(decoded.device_ids)
    if sites is None:
        return None
    outcome = check_devices(decoded, sites)
    return PreparedBatch(outcome, encode_copy_rows(dedup_rows(outcome.rows)))


def store_batch(
    conn: psycopg.Connection[Any], decoded: DecodedBatch, registry: DeviceRegistry, heartbeat: Heartbeat,
    prepared: PreparedBatch | None = None,
) -> StoredBatch:
    """Write one decoded batch in one transaction (``conn`` in autocommit mode); see the module docstring.

    ``prepared`` (:func:`prepare_batch` of the same ``decoded``) skips the CPU work done ahead.
    Raises the database error unless it is a data error (then the batch is stored with the
    refused messages quarantined; the isolating write recomputes everything from ``decoded``).
    """
    try:
        if prepared is None:
            outcome = check_devices(decoded, registry.sites_for(conn, decoded.device_ids))
            unique: Sequence[ReadingRow] | CopyRows = dedup_rows(outcome.rows)
        else:
            outcome, unique = prepared.outcome, prepared.copy

        def tail(c: psycopg.Connection[Any]) -> None:
            write_quarantine(c, outcome.rejects)
            heartbeat(c, outcome)

        upserted = write_batch(conn, unique, tail)
        n_unique = len(unique.rows) if isinstance(unique, CopyRows) else len(unique)
        result = WriteResult(rows_received=len(outcome.rows), duplicates_in_batch=len(outcome.rows) - n_unique,
                             rows_upserted=upserted, method=choose_write_method(conn))
        return StoredBatch(outcome, result)
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise
        log.warning("the database refused part of a batch of %d messages (%s): isolating the offending messages",
                    len(decoded.rows) + len(decoded.rejects), _error_text(exc))
    with conn.transaction():
        outcome = check_devices(decoded, registry.sites_for(conn, decoded.device_ids))
        result, refused = _write_rows_isolating(conn, outcome.rows, outcome.sources)
        if refused:
            dropped = {id(source) for source, _ in refused}
            kept = [(r, s) for r, s in zip(outcome.rows, outcome.sources, strict=True) if id(s) not in dropped]
            outcome.rows, outcome.sources = [r for r, _ in kept], [s for _, s in kept]
            outcome.rejects.extend(q for _, q in refused)
        _write_quarantine_isolating(conn, outcome.rejects)
        heartbeat(conn, outcome)
    return StoredBatch(outcome, result, isolated=True)


def bisect_refused(
    conn: psycopg.Connection[Any], items: Sequence[T], write: Callable[[Sequence[T]], int]
) -> tuple[int, list[tuple[T, psycopg.Error]]]:
    """Write ``items`` with ``write`` under savepoints, halving around data errors.

    Returns (sum of ``write``'s results for the parts that went in, [(item, its error)] for each
    single item the database refused). Costs O(k·log n) statements for k refused items of n.
    Non-data errors propagate.
    """
    if not items:
        return 0, []
    try:
        with conn.transaction():  # a savepoint inside the caller's transaction
            return write(items), []
    except psycopg.Error as exc:
        if not is_data_error(exc):
            raise
        if len(items) == 1:
            return 0, [(items[0], exc)]
    mid = len(items) // 2
    done_a, refused_a = bisect_refused(conn, items[:mid], write)
    done_b, refused_b = bisect_refused(conn, items[mid:], write)
    return done_a + done_b, refused_a + refused_b


def _write_rows_isolating(
    conn: psycopg.Connection[Any], rows: list[ReadingRow], sources: list[SourceMessage]
) -> tuple[WriteResult, list[tuple[SourceMessage, QuarantineRow]]]:
    """Upsert ``rows`` around the ones the database refuses; those come back as quarantine rows."""
    methods: list[WriteResult] = []

    def write(part: Sequence[tuple[ReadingRow, SourceMessage]]) -> int:
        res = write_reading_rows(conn, [r for r, _ in part])
        methods.append(res)
        return res.rows_upserted

    upserted, refused = bisect_refused(conn, list(zip(rows, sources, strict=True)), write)
    quarantined = [(source, reject_row(source, "db_rejected", _error_text(exc))) for (_, source), exc in refused]
    unique = len({(r[0], r[1]) for r in rows})
    result = WriteResult(rows_received=len(rows), duplicates_in_batch=len(rows) - unique, rows_upserted=upserted,
                         method=methods[-1].method if methods else "copy")
    return result, quarantined


def ascii_safe(row: QuarantineRow) -> QuarantineRow:
    """``row`` with every text field ASCII-escaped (last resort for a refused quarantine row)."""
    key = None if row.message_key is None else row.message_key.encode("ascii", "backslashreplace").decode()[:256]
    return replace(
        row,
        source_topic=row.source_topic.encode("ascii", "backslashreplace").decode(),
        message_key=key,
        reason_detail=row.reason_detail.encode("ascii", "backslashreplace").decode()[:500],
    )


def _write_quarantine_isolating(conn: psycopg.Connection[Any], rows: list[QuarantineRow]) -> None:
    _, refused = bisect_refused(conn, rows, lambda part: write_quarantine(conn, list(part)))
    for row, exc in refused:
        log.warning("quarantine row refused (%s): storing it ASCII-escaped", _error_text(exc))
        write_quarantine(conn, [ascii_safe(row)])
