"""Dead-letter records stay bounded whatever the message, and say how to find the whole one."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatchBuilder

from heliosgrid.db.writer import QuarantineRow
from heliosgrid.ingest.deadletter import MAX_KEY_BYTES, dead_letter, is_truncated, max_record_bytes


def _q(detail: str) -> QuarantineRow:
    return QuarantineRow("heliosgrid.readings", 2, 12345, "k", b"", "malformed_json", detail)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3 * 1024 * 1024), st.integers(1024, 512 * 1024), st.one_of(st.none(), st.binary(max_size=3000)),
       st.text(max_size=600))
def test_every_record_fits_the_producer_bound_and_fingerprints_the_full_payload(
    size: int, cap: int, key: bytes | None, detail: str
) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    letter = dead_letter(_q(detail), key, payload, cap)
    headers = dict(letter.headers)
    assert letter.value == payload[:cap]
    assert headers["payload_size"] == str(len(payload)).encode()
    assert headers["payload_sha256"] == hashlib.sha256(payload).hexdigest().encode()
    assert is_truncated(headers) == (len(payload) > cap or (key is not None and len(key) > MAX_KEY_BYTES))
    # the serialized record (what kafka-python compares with max_request_size) fits the bound
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=16 * 1024 * 1024)
    builder.append(0, timestamp=None, key=letter.key, value=letter.value, headers=letter.headers)
    assert len(builder.build()) <= max_record_bytes(cap)


def test_a_small_record_is_complete_and_replayable() -> None:
    letter = dead_letter(_q("bad"), b"inv-1", b'{"a":1}', 65536)
    headers = dict(letter.headers)
    assert (letter.key, letter.value) == (b"inv-1", b'{"a":1}')
    assert not is_truncated(headers)
    assert headers["reason_code"] == b"malformed_json" and headers["source_offset"] == b"12345"
