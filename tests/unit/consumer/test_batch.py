"""Batch validation: every message ends up stored or rejected (with the right reason), never lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.structs import TopicPartition

from consumer.fastrecords import undecodable_batch
from heliosgrid.contract import REASON_CODES, Rejection, decode_reading, encode_reading
from heliosgrid.db.writer import reading_row
from heliosgrid.ingest.batch import SEQ, RawMessage, decode_row, validate_batch
from heliosgrid.ingest.synthetic import reading

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
REGISTRY = {"inv-1": "site-1", "inv-2": "site-1"}


def _msg(offset: int, value: bytes | None, key: bytes | None = b"inv-1") -> RawMessage:
    return RawMessage("t", 0, offset, key, value)


def _good(seq: int, device: str = "inv-1", site: str = "site-1") -> bytes:
    return encode_reading(reading(device, site, NOW - timedelta(minutes=seq), seq))


def test_good_and_bad_messages_are_split_with_reason_and_source_offset() -> None:
    future = json.loads(_good(0))
    future["ts"] = (NOW + timedelta(hours=1)).isoformat()
    messages = [
        _msg(0, _good(1)),
        _msg(1, b"{not json"),
        _msg(2, _good(2, "inv-9"), key=b"inv-9"),  # unknown device
        _msg(3, _good(3, site="site-7")),  # registered at another site
        _msg(4, json.dumps(future).encode()),
        _msg(5, _good(4), key=b"inv-2"),  # key mismatch
        _msg(6, None),  # tombstone
        _msg(7, _good(5)),
    ]
    out = validate_batch(messages, REGISTRY, NOW)
    assert [r[SEQ] for r in out.rows] == [1, 5]
    assert sorted((q.source_offset, q.reason_code) for q in out.rejects) == [
        (1, "malformed_json"), (2, "unknown_device"), (3, "unknown_device"), (4, "future_timestamp"),
        (5, "key_mismatch"), (6, "malformed_json"),
    ]
    assert all(q.reason_detail for q in out.rejects)
    assert min(out.rejects, key=lambda q: q.source_offset).raw_payload == b"{not json"
    assert out.rejects_by_reason() == {"malformed_json": 2, "future_timestamp": 1, "key_mismatch": 1,
                                       "unknown_device": 2}


@settings(max_examples=200)
@given(st.lists(st.one_of(st.binary(max_size=80), st.builds(_good, st.integers(0, 1000))), max_size=30))
def test_no_message_is_ever_lost_whatever_the_bytes(values: list[bytes]) -> None:
    messages = [_msg(i, v) for i, v in enumerate(values)]
    out = validate_batch(messages, REGISTRY, NOW)
    stored = len(out.rows)
    rejected = {q.source_offset for q in out.rejects}
    assert stored + len(out.rejects) == len(messages)
    assert len(rejected) == len(out.rejects)
    assert all(q.reason_code in REASON_CODES for q in out.rejects)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, width=32)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
_fields = st.sampled_from([*sorted(json.loads(_good(0))), "extra"])
_interesting = st.sampled_from([
    1, 1.0, True, "1", 0, -1, 1e9, "2026-03-01T11:00:00Z", "2026-03-01T11:00:00", "2026-03-01 11:00:00+02:00",
    "2026-03-01T13:00:00Z", 1772362800, "inv-1", "inv-2", "site-1", "ok", "OK", -5.0, -25.0, 2000.0, None, "",
])


@settings(max_examples=400)
@given(st.dictionaries(_fields, _json_values | _interesting, max_size=4), st.booleans(),
       st.sampled_from([None, b"inv-1", b"inv-2"]))
def test_fast_decode_agrees_with_the_contract(changes: dict[str, object], drop: bool, key: bytes | None) -> None:
    obj = json.loads(_good(3))
    for field, value in changes.items():
        if drop:
            obj.pop(field, None)
        else:
            obj[field] = value
    raw = json.dumps(obj).encode()
    fast, canonical = decode_row(raw, key, NOW), decode_reading(raw, key, NOW)
    assert fast == (canonical if isinstance(canonical, Rejection) else reading_row(canonical))


def test_an_undecodable_record_batch_is_rejected_whole_with_its_reason() -> None:
    """``consumer.fastrecords.UndecodableBatch`` (a raw batch standing in for its records) → ``undecodable_batch``."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for i in range(2):
        builder.append(i, timestamp=1, key=b"inv-1", value=b"{}", headers=[])
    raw = bytes(builder.build())
    batch = DefaultRecordBatch(raw)
    batch._header_data = (40, *batch._header_data[1:])  # the base offset a broker stamps
    marker = undecodable_batch(TopicPartition("t", 0), 0, batch, raw, 40, OSError("bad gzip"))
    out = validate_batch([_msg(39, _good(1)), marker], REGISTRY, now=NOW)
    assert len(out.rows) == 1
    [q] = out.rejects
    assert (q.source_offset, q.reason_code, q.raw_payload) == (41, "undecodable_batch", raw)
    assert "offsets 40..41 (2 records, none" in q.reason_detail and "OSError: bad gzip" in q.reason_detail
    assert q.reason_code in REASON_CODES
