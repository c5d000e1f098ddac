"""A faster record parser for kafka-python's fetcher: v2 record batches to ``ConsumerRecord`` in one tight loop.

kafka-python parses every record of a fetch in pure Python through several layers
(``PartitionRecords._unpack_records`` → ``DefaultRecordBatch.__next__`` → ``_read_msg`` → one
``decode_varint`` call per field → a ``DefaultRecord`` object → the ``ConsumerRecord``): about
13 µs of CPU per 300-byte reading on the bench host, 57 % of the polling thread (ADR 0101).
:class:`FastPartitionRecords` replaces only the per-record loop for the common case and yields
the *same* ``ConsumerRecord`` tuples (topic, partition, leader epoch, offset, timestamp and its
type, key, value, headers, checksum, serialized sizes), with the same fetch-position and metric
bookkeeping (``next_fetch_offset``, ``records_read``, ``bytes_read``, ``leader_epoch``).

Scope (everything else is handed, whole fetch at a time, to kafka-python's own code):

* every batch of the fetch is message format v2 (magic 2): legacy v0/v1 batches → kafka-python;
* under ``isolation_level='read_committed'`` (the consumer's default) batches of aborted transactions are
  skipped with kafka-python's own bookkeeping (the fetch response's aborted transactions, ABORT markers);
  control batches are skipped exactly as kafka-python does (they advance the fetch position and yield
  nothing);
* no key/value deserializers (the consumer reads raw bytes);
* compressed batches are decompressed by kafka-python's ``DefaultRecordBatch`` (gzip, snappy,
  lz4, zstd), then parsed here; CRCs are checked by kafka-python (``crc32c`` C package) when
  ``check_crcs`` is on.

A batch that cannot be decoded (failed CRC, a compressed payload its codec cannot read, a broken
record) does not stop ingest: its records are replaced by one :class:`UndecodableBatch` record at
the batch's last offset, carrying the raw batch bytes and the reason, which the consumer
quarantines and dead-letters as ``undecodable_batch`` like any refused message; the fetch goes on
after the batch (records of it yielded before the failure stay delivered). Kafka brokers refuse
such batches at produce time; Tansu stores them, and a hand-written client or a corrupted log
segment can serve them. Exactness is checked by ``tests/unit/consumer/test_fastrecords.py``
(hypothesis, against kafka-python's own builders and parser). :func:`install` switches one
``KafkaConsumer`` to this parser.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord, Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.util import decode_varint

try:  # kafka-python >= 2.1 names it; the consumer never sets read_committed
    from kafka.consumer.fetcher import IsolationLevel

    _READ_UNCOMMITTED: Any = IsolationLevel.READ_UNCOMMITTED
except ImportError:  # pragma: no cover - older kafka-python: no transactions support at all
    _READ_UNCOMMITTED = None

log = logging.getLogger("heliosgrid.consumer")

_LENGTH = struct.Struct(">i")
_LOG_OVERHEAD = 12
"""Batch prefix: base offset (int64) + batch length (int32)."""
_MAGIC_OFFSET = 16
_LOG_APPEND_TIME = DefaultRecordBatch.LOG_APPEND_TIME
_CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


class UndecodableBatch(ConsumerRecord):  # type: ignore[misc]
    """Stands in for the records of a v2 batch that could not be decoded (see the module docstring).

    ``offset`` is the batch's last offset (committing past it skips the batch), ``value`` the raw
    batch as fetched (v2 format, header included), ``undecodable`` why and which offsets.
    """

    undecodable: str


def undecodable_batch(tp: Any, epoch: int, batch: DefaultRecordBatch, raw: bytes, first: int, err: BaseException
                      ) -> UndecodableBatch:
    """The :class:`UndecodableBatch` for offsets ``first`` … last of ``batch`` (``raw``: its bytes as fetched)."""
    last = batch.last_offset
    codec = _CODECS.get(batch.compression_type, f"codec {batch.compression_type}")
    kept = f"; offsets {batch.base_offset}..{first - 1} of it were delivered" if first > batch.base_offset else ""
    rec = tuple.__new__(UndecodableBatch, (
        tp.topic, tp.partition, epoch, last, batch.first_timestamp, batch.timestamp_type, None, raw, [], None,
        -1, len(raw), -1))
    rec.undecodable = (f"record batch at offsets {first}..{last} ({batch.records_count} records, {codec}, "
                       f"{len(raw)} bytes) could not be decoded: {type(err).__name__}: {err}{kept}; "
                       "the raw batch is kept whole")
    return rec


def all_v2(buffer: bytes | bytearray | memoryview) -> bool:
    """True when every complete batch in a fetch's record set is message format v2.

    Walks the batch prefixes the way ``MemoryRecords`` does (a trailing partial batch is ignored,
    as kafka-python ignores it); reads three bytes per batch, parses nothing.
    """
    pos, end = 0, len(buffer)
    while end - pos >= _LOG_OVERHEAD:
        (length,) = _LENGTH.unpack_from(buffer, pos + 8)
        nxt = pos + _LOG_OVERHEAD + length
        if nxt > end:
            break
        if length < _MAGIC_OFFSET - _LOG_OVERHEAD + 1 or buffer[pos + _MAGIC_OFFSET] != 2:
            return False
        pos = nxt
    return True


def _headers(buf: bytes, pos: int) -> tuple[list[tuple[str, bytes | None]], int]:
    """A record's header count and headers from ``pos``: [(key, value)], next position (kafka-python's rules)."""
    count, pos = decode_varint(buf, pos)
    if count < 0:
        raise CorruptRecordError(f"Found invalid number of record headers {count}")
    out: list[tuple[str, bytes | None]] = []
    while count:
        key_len, pos = decode_varint(buf, pos)
        if key_len < 0:
            raise CorruptRecordError(f"Invalid negative header key size {key_len}")
        h_key = buf[pos:pos + key_len].decode("utf-8")
        pos += key_len
        value_len, pos = decode_varint(buf, pos)
        if value_len >= 0:
            h_value: bytes | None = buf[pos:pos + value_len]
            pos += value_len
        else:
            h_value = None
        out.append((h_key, h_value))
        count -= 1
    return out, pos


class FastPartitionRecords(Fetcher.PartitionRecords):  # type: ignore[misc,name-defined]
    """kafka-python's ``PartitionRecords`` with the v2 record loop replaced (see the module docstring)."""

    def _unpack_records(self, tp: Any, records: Any, key_deserializer: Any,
                        value_deserializer: Any) -> Iterator[ConsumerRecord]:
        if key_deserializer is not None or value_deserializer is not None or not all_v2(records._buffer):
            yield from super()._unpack_records(tp, records, key_deserializer, value_deserializer)
            return
        try:
            batch = records.next_batch()
            last_batch = None
            while batch is not None:
                last_batch = batch
                self.leader_epoch = batch.leader_epoch
                yield from self._batch_or_marker(tp, batch)
                batch = records.next_batch()
            if last_batch is not None:
                self.next_fetch_offset = last_batch.next_offset
            self.drain()
        except StopIteration:  # as kafka-python: never let StopIteration end the generator silently
            log.exception("StopIteration raised unpacking messageset")
            raise RuntimeError("StopIteration raised unpacking messageset") from None

    def _batch_or_marker(self, tp: Any, batch: DefaultRecordBatch) -> Iterator[ConsumerRecord]:
        """The records of ``batch`` (none for a control batch or, under ``read_committed``, an aborted one);
        from the first that cannot be decoded on, one :class:`UndecodableBatch`."""
        raw = batch._buffer  # a reference: decompression replaces the batch's buffer
        try:
            if self.check_crcs and not batch.validate_crc():
                raise CorruptRecordError(f"record batch for partition {self.topic_partition} at offset "
                                         f"{batch.base_offset} failed its CRC check")
            if self._aborted(batch) or batch.is_control_batch:  # _aborted first: an ABORT marker ends a transaction
                self.next_fetch_offset = batch.next_offset
                return
            yield from self._batch_records(tp, batch)
        except Exception as err:  # any codec's or the parser's error: this batch's bytes, not the consumer
            first = max(batch.base_offset, self.next_fetch_offset)
            marker = undecodable_batch(tp, self.leader_epoch, batch, bytes(raw), first, err)
            log.error("%s [%d]: %s", tp.topic, tp.partition, marker.undecodable)
            self.records_read += 1
            self.next_fetch_offset = batch.next_offset
            yield marker

    def _aborted(self, batch: DefaultRecordBatch) -> bool:
        """Under ``read_committed``: whether ``batch`` belongs to an aborted transaction, with kafka-python's own
        bookkeeping (the fetch response's aborted transactions; an ABORT marker ends its producer's)."""
        if self.isolation_level == _READ_UNCOMMITTED or not batch.has_producer_id():
            return False
        self._consume_aborted_transactions_up_to(batch.last_offset)
        if self._contains_abort_marker(batch):
            self.aborted_producer_ids.discard(batch.producer_id)
            return False
        return bool(self._is_batch_aborted(batch))

    def _batch_records(self, tp: Any, batch: DefaultRecordBatch) -> Iterator[ConsumerRecord]:
        """The records of one (non-control) v2 batch, in order; the record layout of KIP-98."""
        batch._maybe_uncompress()
        buf = bytes(batch._buffer)
        pos = batch._pos
        topic, partition, epoch = tp.topic, tp.partition, self.leader_epoch
        base_offset, append_time = batch.base_offset, batch.timestamp_type == _LOG_APPEND_TIME
        first_ts, max_ts, ts_type = batch.first_timestamp, batch.max_timestamp, batch.timestamp_type
        dv, new = decode_varint, tuple.__new__  # tuple.__new__: the namedtuple without its Python-level __new__
        try:
            for _ in range(batch.records_count):
                # Varints are zigzag-encoded; one-byte ones (b < 0x80) are decoded inline, saving a call.
                length, pos = ((b >> 1) ^ -(b & 1), pos + 1) if (b := buf[pos]) < 0x80 else dv(buf, pos)
                start = pos
                pos = pos + 1 if buf[pos] < 0x80 else dv(buf, pos)[1]  # record attributes: unused, as in kafka-python
                ts_delta, pos = ((b >> 1) ^ -(b & 1), pos + 1) if (b := buf[pos]) < 0x80 else dv(buf, pos)
                offset_delta, pos = ((b >> 1) ^ -(b & 1), pos + 1) if (b := buf[pos]) < 0x80 else dv(buf, pos)
                key_len, pos = ((b >> 1) ^ -(b & 1), pos + 1) if (b := buf[pos]) < 0x80 else dv(buf, pos)
                key = None
                if key_len >= 0:
                    key, pos = buf[pos:pos + key_len], pos + key_len
                value_len, pos = dv(buf, pos)
                value = None
                if value_len >= 0:
                    value, pos = buf[pos:pos + value_len], pos + value_len
                headers: list[tuple[str, bytes | None]]
                if buf[pos] == 0:  # no headers (the zigzag varint 0)
                    headers, pos = [], pos + 1
                else:
                    headers, pos = _headers(buf, pos)
                if pos - start != length:
                    raise CorruptRecordError(f"Invalid record size: expected to read {length} bytes in record "
                                             f"payload, but instead read {pos - start}")
                offset = base_offset + offset_delta
                self.records_read += 1
                self.bytes_read += length
                self.next_fetch_offset = offset + 1
                yield new(ConsumerRecord, (
                    topic, partition, epoch, offset, max_ts if append_time else first_ts + ts_delta, ts_type,
                    key, value, headers, None, -1 if key is None else len(key),
                    -1 if value is None else len(value), _header_size(headers) if headers else -1))
        except (ValueError, IndexError) as err:
            raise CorruptRecordError(f"Found invalid record structure: {err!r}") from None
        if pos != len(buf):
            raise CorruptRecordError(f"{len(buf) - pos} unconsumed bytes after all records consumed")


def _header_size(headers: list[tuple[str, bytes | None]]) -> int:
    if not headers:
        return -1
    return sum(len(k.encode("utf-8")) + (len(v) if v is not None else 0) for k, v in headers)


def install(consumer: Any) -> bool:
    """Make ``consumer`` (a ``KafkaConsumer``) parse fetched records with :class:`FastPartitionRecords`.

    Only this consumer's fetcher is changed (an instance attribute; the library's class is left
    alone). Returns False (and kafka-python keeps its own parser) when the fetcher is not the one
    this was written against.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    if not isinstance(fetcher, Fetcher) or getattr(fetcher, "PartitionRecords", None) is not Fetcher.PartitionRecords:
        log.warning("kafka-python's fetcher changed shape: keeping its own record parser")
        return False
    fetcher.PartitionRecords = FastPartitionRecords
    return True
