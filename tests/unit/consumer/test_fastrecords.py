"""consumer.fastrecords yields exactly what kafka-python's own parser yields (hypothesis).

Record sets are built with kafka-python's builders (v2 batches, gzip-compressed batches,
transactional batches, legacy v1 batches), then patched the way a broker stamps them (base
offset, leader epoch, log-append time, control flag; the CRC recomputed). Both parsers read the
same bytes from the same fetch offset; the records, the exception (if any) and the fetch-position
and metric bookkeeping must be identical.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.consumer.fetcher import Fetcher, IsolationLevel
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.record.util import calc_crc32c
from kafka.structs import TopicPartition

from consumer.fastrecords import FastPartitionRecords, UndecodableBatch, all_v2, install

TP = TopicPartition("readings", 2)
_HEADER = DefaultRecordBatch.HEADER_STRUCT

keys = st.none() | st.binary(max_size=80)
values = st.none() | st.binary(max_size=400)
headers = st.lists(st.tuples(st.text(max_size=12), st.none() | st.binary(max_size=20)), max_size=3)
records = st.lists(st.tuples(st.integers(0, 2**40), keys, values, headers), min_size=1, max_size=40)


def v2_batch(recs: list[tuple[int, Any, Any, Any]], base_offset: int, *, gzip: bool = False, epoch: int = 3,
             control: bool = False, append_time: bool = False, producer_id: int = -1, gap: int = 1) -> bytes:
    """One v2 batch as a broker would serve it (offsets from ``base_offset``, ``gap`` apart)."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=1 if gzip else 0, is_transactional=producer_id >= 0,
                                        producer_id=producer_id, producer_epoch=0 if producer_id >= 0 else -1,
                                        base_sequence=0 if producer_id >= 0 else -1, batch_size=1 << 30)
    for i, (ts, key, value, hdrs) in enumerate(recs):
        builder.append(i * gap, timestamp=ts, key=key, value=value, headers=hdrs)
    buf = bytearray(builder.build())
    fields = list(_HEADER.unpack_from(buf))
    fields[0], fields[2] = base_offset, epoch
    fields[5] |= (DefaultRecordBatch.CONTROL_MASK if control else 0) | (
        DefaultRecordBatch.TIMESTAMP_TYPE_MASK if append_time else 0)
    _HEADER.pack_into(buf, 0, *fields)
    struct.pack_into(">I", buf, DefaultRecordBatch.CRC_OFFSET,
                     calc_crc32c(memoryview(buf)[DefaultRecordBatch.ATTRIBUTES_OFFSET:]))
    return bytes(buf)


def drain(cls: type, data: bytes, fetch_offset: int = 0, take: int | None = None, **kw: Any) -> dict[str, Any]:
    """Everything a consumer observes of one fetch parsed by ``cls``."""
    pr = cls(fetch_offset, TP, MemoryRecords(data), **kw)
    out: list[Any] = []
    error = None
    try:
        while pr:
            got = pr.take(take)
            if not got:
                break
            out.extend(got)
    except Exception as exc:  # damaged headers raise codec/struct errors in kafka-python too
        error = type(exc)
    return {"records": out, "error": error, "next": pr.next_fetch_offset, "read": pr.records_read,
            "bytes": pr.bytes_read, "epoch": pr.leader_epoch}


def same(data: bytes, **kw: Any) -> dict[str, Any]:
    slow = drain(Fetcher.PartitionRecords, data, **kw)
    fast = drain(FastPartitionRecords, data, **kw)
    assert fast == slow
    return fast


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(records, min_size=1, max_size=4), gzip=st.booleans(), append_time=st.booleans(),
       gap=st.integers(1, 3), skip=st.integers(0, 30), take=st.none() | st.integers(1, 7))
def test_v2_batches_identical(batches: list[Any], gzip: bool, append_time: bool, gap: int, skip: int,
                              take: int | None) -> None:
    data, offset = b"", 100
    for recs in batches:
        data += v2_batch(recs, offset, gzip=gzip, append_time=append_time, gap=gap)
        offset += len(recs) * gap
    got = same(data, fetch_offset=100 + skip, take=take)
    assert got["error"] is None
    assert got["next"] == offset - gap + 1  # the whole fetch was consumed


@settings(max_examples=40, deadline=None)
@given(recs=records, before=records)
def test_control_and_transactional_batches_identical(recs: list[Any], before: list[Any]) -> None:
    commit_marker: tuple[Any, ...] = (recs[0][0], struct.pack(">hh", 0, 1), struct.pack(">hi", 0, 0), [])  # version 0, COMMIT
    data = (v2_batch(before, 0, producer_id=7) + v2_batch([commit_marker], len(before), control=True, producer_id=7)
            + v2_batch(recs, len(before) + 1))
    got = same(data)
    assert len(got["records"]) == len(before) + len(recs)  # the control batch yields nothing
    same(data, isolation_level=IsolationLevel.READ_COMMITTED)


Aborted = namedtuple("Aborted", ["producer_id", "first_offset"])  # a FetchResponse's aborted transaction


@settings(max_examples=60, deadline=None)
@given(txns=st.lists(st.tuples(st.sampled_from([7, 8]), records, st.booleans()), min_size=1, max_size=5),
       take=st.none() | st.integers(1, 7))
def test_read_committed_skips_aborted_transactions_as_kafka_python_does(txns: list[Any], take: int | None) -> None:
    """Transactions of two producers, each committed or aborted (its data batch, then its marker): under
    read_committed both parsers drop exactly the aborted ones, with the fetch position past them."""
    data, offset, aborted, kept = b"", 0, [], 0
    for pid, recs, abort in txns:
        data += v2_batch(recs, offset, producer_id=pid)
        if abort:
            aborted.append(Aborted(pid, offset))
        else:
            kept += len(recs)
        offset += len(recs)
        marker = (recs[0][0], struct.pack(">hh", 0, 0 if abort else 1), struct.pack(">hi", 0, 0), [])
        data += v2_batch([marker], offset, control=True, producer_id=pid)
        offset += 1
    got = same(data, isolation_level=IsolationLevel.READ_COMMITTED, aborted_transactions=aborted, take=take)
    assert len(got["records"]) == kept and got["next"] == offset
    assert len(same(data, aborted_transactions=aborted)["records"]) == offset - len(txns)  # read_uncommitted: all


@settings(max_examples=100, deadline=None)
@given(recs=records, pos=st.integers(61, 10_000), byte=st.integers(0, 255), truncate=st.booleans())
def test_corrupt_batches_become_one_undecodable_record(recs: list[Any], pos: int, byte: int, truncate: bool) -> None:
    """With CRC checks off, damaged bytes parse the same way in both parsers, or, where kafka-python
    raises inside a v2 batch, the fast parser yields the records kafka-python yielded before the error
    and then one :class:`UndecodableBatch` (the raw batch, its last offset): the fetch goes on.

    ``pos`` wraps around the batch, so the batch header is damaged too (magic, codec bits, length): a
    batch that is no longer v2 goes to kafka-python and fails as there.
    """
    data = bytearray(v2_batch(recs, 0))
    pos %= len(data)
    if truncate:
        del data[pos:]
    else:
        data[pos] = byte
    slow = drain(Fetcher.PartitionRecords, bytes(data), check_crcs=False)
    fast = drain(FastPartitionRecords, bytes(data), check_crcs=False)
    if slow["error"] is None or fast["error"] is not None:
        assert fast == slow
        return
    *delivered, marker = fast["records"]
    assert isinstance(marker, UndecodableBatch) and delivered == slow["records"]
    assert not any(isinstance(r, UndecodableBatch) for r in delivered)
    batch = DefaultRecordBatch(bytes(data))
    assert marker.offset == batch.last_offset and fast["next"] == batch.last_offset + 1
    assert marker.value == bytes(data) and marker.key is None
    assert f"offsets {len(delivered)}..{batch.last_offset}" in marker.undecodable


def test_crc_failure_becomes_one_undecodable_record() -> None:
    data = bytearray(v2_batch([(1, b"k", b"v" * 50, [])], 7))
    data[-3] ^= 0xFF
    assert drain(Fetcher.PartitionRecords, bytes(data))["error"] is CorruptRecordError
    got = drain(FastPartitionRecords, bytes(data))
    assert got["error"] is None and got["next"] == 8
    [marker] = got["records"]
    assert isinstance(marker, UndecodableBatch) and marker.value == bytes(data)
    assert "offsets 7..7 (1 records, none" in marker.undecodable and "CRC" in marker.undecodable


def test_unreadable_compressed_batch_between_good_ones() -> None:
    """A gzip batch whose payload is not gzip (CRC right: Tansu stores such a batch) between two good batches."""
    bad = bytearray(v2_batch([(1, b"a", b"x" * 300, []), (2, b"b", b"y" * 300, [])], 3, gzip=True))
    assert DefaultRecordBatch(bytes(bad)).compression_type == DefaultRecordBatch.CODEC_GZIP
    bad[61:] = b"\x1f\x8bnot gzip" + bytes(len(bad) - 61 - 10)
    crc = calc_crc32c(memoryview(bad)[DefaultRecordBatch.ATTRIBUTES_OFFSET:])
    struct.pack_into(">I", bad, DefaultRecordBatch.CRC_OFFSET, crc)
    data = v2_batch([(1, b"k", b"0", [])] * 3, 0) + bytes(bad) + v2_batch([(1, b"k", b"5", [])], 5)
    assert drain(Fetcher.PartitionRecords, data)["error"] is not None  # kafka-python: the consumer died here
    got = drain(FastPartitionRecords, data)
    assert got["error"] is None and got["next"] == 6
    assert [r.offset for r in got["records"]] == [0, 1, 2, 4, 5]
    marker = got["records"][3]
    assert isinstance(marker, UndecodableBatch) and marker.value == bytes(bad)
    assert "offsets 3..4 (2 records, gzip" in marker.undecodable


def test_legacy_batches_go_to_kafka_python() -> None:
    builder = MemoryRecordsBuilder(magic=1, compression_type=0, batch_size=1 << 20)
    for i in range(5):
        builder.append(1_700_000_000_000 + i, b"d%d" % i, b"{}")
    builder.close()
    legacy = bytes(builder.buffer())
    assert not all_v2(legacy)
    assert not all_v2(v2_batch([(1, None, b"x", [])], 0) + legacy)
    assert len(same(legacy)["records"]) == 5


def test_install_switches_only_that_consumer() -> None:
    class Holder:
        _fetcher = object.__new__(Fetcher)

    holder = Holder()
    holder._fetcher.PartitionRecords = Fetcher.PartitionRecords  # type: ignore[attr-defined]
    assert install(holder)
    assert holder._fetcher.PartitionRecords is FastPartitionRecords  # type: ignore[attr-defined]
    assert Fetcher.PartitionRecords is not FastPartitionRecords
    assert not install(object())


@pytest.mark.parametrize("deser", ["key", "value"])
def test_deserializers_go_to_kafka_python(deser: str) -> None:
    data = v2_batch([(5, b"a", b"b", [])], 0)
    class Upper:
        def deserialize(self, topic: str, headers: Any, data: bytes) -> bytes:
            return data.upper()

    kw = {f"{deser}_deserializer": Upper()}
    got = same(data, **kw)
    assert got["records"][0].key == (b"A" if deser == "key" else b"a")
