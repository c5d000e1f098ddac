"""Validate one micro-batch of raw Kafka messages: decode, check the device registry, split.

Each message is decoded against contract v1 by :func:`decode_row` (the msgspec fast path for
plain valid messages, :func:`heliosgrid.contract.decode_reading` for everything else, so
reasons are always the contract's; one ``now`` per batch bounds the future-timestamp check).
Valid readings travel as COPY row tuples (:data:`heliosgrid.db.writer.READING_COLUMNS` order),
not as model objects: the hot path builds no per-message Python object besides the tuple.
Readings of devices that are not registered, or that claim a different site than the
registry, are rejected with ``unknown_device``. Nothing is dropped: every input message ends
up either in :attr:`BatchOutcome.rows` or in :attr:`BatchOutcome.rejects` (with its source
topic/partition/offset and raw bytes).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import psycopg

from heliosgrid.contract import DEFAULT_TS_WINDOW, Rejection, TimestampWindow, decode_reading
from heliosgrid.db.writer import READING_COLUMNS, QuarantineRow, ReadingRow, reading_row
from heliosgrid.ingest.fastdecode import decode_row_fast
from heliosgrid.settings import Settings

DEVICE_ID: Final = 0
TS: Final = 1
SITE_ID: Final = 2
SEQ: Final = 10
"""Positions of the key columns in a :data:`ReadingRow` (checked against READING_COLUMNS at import)."""
if tuple(READING_COLUMNS.index(c) for c in ("device_id", "ts", "site_id", "seq")) != (DEVICE_ID, TS, SITE_ID, SEQ):
    raise ImportError("heliosgrid.ingest.batch: row positions disagree with READING_COLUMNS")


class SourceMessage(Protocol):
    """What ingest needs of a Kafka record (kafka-python's ConsumerRecord and RawMessage have it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class RawMessage:
    """A Kafka record's ingest-relevant parts (for tests, replays and benchmarks)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class BatchOutcome:
    """The split of one batch: valid reading rows and rejected messages (quarantine rows)."""

    rows: list[ReadingRow] = field(default_factory=list)
    rejects: list[QuarantineRow] = field(default_factory=list)
    sources: list[SourceMessage] = field(default_factory=list)
    """``rows[i]`` came from ``sources[i]`` (to quarantine a row the database refuses)."""

    def rejects_by_reason(self) -> dict[str, int]:
        """Count of rejected messages per reason code."""
        out: dict[str, int] = {}
        for r in self.rejects:
            out[r.reason_code] = out.get(r.reason_code, 0) + 1
        return out


def db_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters and safe for a PostgreSQL ``text`` column.

    PostgreSQL text cannot hold the NUL character (``DataError``: invalid byte sequence 0x00), so
    NUL becomes the visible escape ``\\x00``; everything else is kept.
    """
    return text[:limit].replace("\x00", "\\x00")


def _key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    return db_text(key.decode("utf-8", "replace"), 256)


def reject_row(msg: SourceMessage, code: str, detail: str) -> QuarantineRow:
    """The quarantine row of ``msg`` (raw bytes kept as they are; key and detail made text-safe)."""
    return QuarantineRow(
        source_topic=msg.topic,
        source_partition=msg.partition,
        source_offset=msg.offset,
        message_key=_key_text(msg.key),
        raw_payload=msg.value if msg.value is not None else b"",
        reason_code=code,
        reason_detail=db_text(detail, 500),
    )


@dataclass
class DecodedBatch:
    """First stage of a batch: rows that passed the contract (with their sources), and contract rejects.

    ``rows[i]`` came from ``sources[i]``.
    """

    rows: list[ReadingRow] = field(default_factory=list)
    sources: list[SourceMessage] = field(default_factory=list)
    rejects: list[QuarantineRow] = field(default_factory=list)
    fast_path: int = 0
    """How many rows the msgspec fast path decoded (the rest went through ``decode_reading``)."""

    @property
    def device_ids(self) -> set[str]:
        """Device ids named by the decoded readings."""
        return {r[DEVICE_ID] for r in self.rows}


def decode_row_canonical(
    raw: bytes | None, key: bytes | None, now: datetime, window: TimestampWindow = DEFAULT_TS_WINDOW
) -> ReadingRow | Rejection:
    """:func:`heliosgrid.contract.decode_reading` as a row, and never an exception.

    The contract's validators can raise on a few pathological inputs (a timestamp that cannot
    be shifted to UTC, e.g. ``0001-01-01T00:00:00+01:00``, raises ``OverflowError``; JSON nested
    thousands deep raises ``RecursionError``); those become rejections here, so one such
    message never stops the consumer.
    """
    try:
        result = decode_reading(raw, key, now, window)
    except OverflowError as exc:
        return Rejection("out_of_range", f"ts: outside the representable date range ({exc})")
    except RecursionError:
        return Rejection("malformed_json", "JSON nested too deeply")
    return result if isinstance(result, Rejection) else reading_row(result)


def decode_row(
    raw: bytes | None, key: bytes | None, now: datetime, window: TimestampWindow = DEFAULT_TS_WINDOW
) -> ReadingRow | Rejection:
    """Decode one message value to its row, or the contract's :class:`Rejection` (never raises).

    Same result as ``reading_row(decode_reading(raw, key, now, window))`` (or its rejection): the
    msgspec fast path (:func:`heliosgrid.ingest.fastdecode.decode_row_fast`) answers for plain valid
    messages, everything else goes through :func:`decode_row_canonical`. ``now`` is UTC.
    """
    row = decode_row_fast(raw, key, window.bounds(now))
    if row is not None:
        return row
    return decode_row_canonical(raw, key, now, window)


def decode_batch(
    messages: Iterable[SourceMessage], now: datetime | None = None, window: TimestampWindow = DEFAULT_TS_WINDOW
) -> DecodedBatch:
    """Decode every message against contract v1 (CPU only, no database).

    ``now`` (UTC, default: the current time) anchors the accepted ``ts`` ``window`` for the whole batch.
    """
    now = now or datetime.now(UTC)
    bounds = window.bounds(now)
    out = DecodedBatch()
    rows, sources = out.rows, out.sources
    fast = 0
    for msg in messages:
        row = decode_row_fast(msg.value, msg.key, bounds)
        if row is not None:
            rows.append(row)
            sources.append(msg)
            fast += 1
            continue
        undecodable = getattr(msg, "undecodable", None)  # consumer.fastrecords.UndecodableBatch: a raw batch
        if undecodable is not None:  # (its bytes start with the batch's int64 base offset: never valid JSON)
            out.rejects.append(reject_row(msg, "undecodable_batch", undecodable))
            continue
        result = decode_row_canonical(msg.value, msg.key, now, window)
        if isinstance(result, Rejection):
            out.rejects.append(reject_row(msg, result.reason_code, result.reason_detail))
        else:
            rows.append(result)
            sources.append(msg)
    out.fast_path = fast
    return out


def check_devices(batch: DecodedBatch, device_sites: Mapping[str, str]) -> BatchOutcome:
    """Second stage: keep readings of registered devices at their registered site.

    ``device_sites`` maps device_id → site_id; anything else is rejected as ``unknown_device``.
    """
    out = BatchOutcome(rejects=list(batch.rejects))
    kept, kept_sources = out.rows, out.sources
    get = device_sites.get
    for row, msg in zip(batch.rows, batch.sources, strict=True):
        device_id, site_id = row[DEVICE_ID], row[SITE_ID]
        site = get(device_id)
        if site == site_id:
            kept.append(row)
            kept_sources.append(msg)
        elif site is None:
            out.rejects.append(reject_row(msg, "unknown_device", f"device_id {device_id!r} is not registered"))
        else:
            out.rejects.append(
                reject_row(
                    msg,
                    "unknown_device",
                    f"device_id {device_id!r} is registered at site {site!r}, message says {site_id!r}",
                )
            )
    return out


def validate_batch(
    messages: Iterable[SourceMessage], device_sites: Mapping[str, str], now: datetime | None = None,
    window: TimestampWindow = DEFAULT_TS_WINDOW,
) -> BatchOutcome:
    """Both stages at once: :func:`decode_batch` then :func:`check_devices`."""
    return check_devices(decode_batch(messages, now, window), device_sites)


def ts_window(settings: Settings) -> TimestampWindow:
    """The accepted ``ts`` span configured by ``HELIOS_INGEST_*`` (max age defaults to the raw retention)."""
    days = settings.ingest_ts_max_age_days or float(settings.retention_raw_days)
    return TimestampWindow(
        earliest=settings.ingest_ts_earliest,
        max_age=timedelta(days=days),
        max_future_skew=timedelta(seconds=settings.ingest_max_future_skew_s),
    )


class DeviceRegistry:
    """Cache of ``devices`` (device_id → site_id), refreshed every ``ttl_s`` seconds.

    When a batch names a device the cache does not know, the whole cache is re-read at most once every
    ``miss_refresh_s`` seconds; within that interval the missing ids alone are looked up (one indexed query per
    batch) before a reading is rejected. A device registered a moment ago is accepted at once: a producer that
    registers its fleet and sends right away (``producer replay``) had thousands of readings rejected as
    ``unknown_device`` in the seconds the cache was trusted.
    """

    def __init__(self, ttl_s: float = 60.0, miss_refresh_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self.miss_refresh_s = miss_refresh_s
        self._sites: dict[str, str] = {}
        self._loaded_at = float("-inf")

    def load(self, conn: psycopg.Connection[Any]) -> None:
        """Read the whole registry now."""
        rows = conn.execute("SELECT device_id, site_id FROM devices").fetchall()
        self._sites = {str(d): str(s) for d, s in rows}
        self._loaded_at = time.monotonic()

    def cached_sites_for(self, needed: set[str]) -> Mapping[str, str] | None:
        """The mapping when :meth:`sites_for` would not re-read it now (fresh, knows every ``needed``), else None.

        Needs no connection: the consumer's polling thread checks devices with it ahead of the
        writer (ADR 0280); None leaves the check (and any re-read) to the writer's :meth:`sites_for`.
        """
        sites = self._sites  # one reference: load() replaces the dict, never mutates it
        age = time.monotonic() - self._loaded_at
        if age > self.ttl_s or not needed.issubset(sites):
            return None
        return sites

    def sites_for(self, conn: psycopg.Connection[Any], needed: set[str]) -> Mapping[str, str]:
        """The mapping, re-read from ``conn`` first when stale or missing one of ``needed`` (see the class doc)."""
        age = time.monotonic() - self._loaded_at
        if age > self.ttl_s or (age > self.miss_refresh_s and not needed.issubset(self._sites)):
            self.load(conn)
        missing = needed.difference(self._sites)
        if missing:
            rows = conn.execute("SELECT device_id, site_id FROM devices WHERE device_id = ANY(%s)",
                                (sorted(missing),)).fetchall()
            if rows:  # a new dict, never a mutation: the polling thread reads the old one meanwhile
                self._sites = {**self._sites, **{str(d): str(s) for d, s in rows}}
        return self._sites

    def __len__(self) -> int:
        return len(self._sites)
