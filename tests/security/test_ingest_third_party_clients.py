"""Producers nobody here wrote: librdkafka (the confluent-kafka wheel) with every compression codec.

Java and librdkafka clients often compress with snappy, lz4 or zstd (and a broker with
``compression.type`` set recompresses to it whatever the client sent). kafka-python decodes
those only with the codec packages installed: without them every fetch of such a batch raised
``UnsupportedCodecError`` out of ``poll()``, the consumer died with a traceback and died again on
each restart at the same offset — ingest stopped for good. These tests run ``python -m consumer``
against a real Tansu broker fed by librdkafka and check that every message of every codec is
stored, and that a batch that still cannot be decoded is set aside with its reason.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import confluent_kafka
import crc32c
import psycopg
import pytest
from kafka.record.default_records import DefaultRecordBatchBuilder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "consumer"))
from ingest_helpers import consume_all, dlq_messages, make_topics

from heliosgrid.contract import encode_reading
from heliosgrid.ingest.synthetic import fleet_ids, readings_stream, register_devices

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def _librdkafka_produce(broker: str, topic: str, messages: list[tuple[bytes, bytes]], codec: str) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": broker, "compression.type": codec, "acks": "all",
                                         "linger.ms": 20, "enable.idempotence": True})
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for key, value in messages:
        producer.produce(topic, key=key, value=value, partition=0, on_delivery=delivered)
    assert producer.flush(30) == 0, "librdkafka did not deliver everything"
    assert not errors, errors


def test_messages_of_every_compression_codec_from_librdkafka_are_stored(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    devices = fleet_ids(f"c{uuid.uuid4().hex[:6]}", 1, len(CODECS))
    with psycopg.connect(db) as conn:
        register_devices(conn, devices)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    make_topics(broker, topic_names)
    total = 0
    for (device, site), codec in zip(devices, CODECS, strict=True):
        batch = [(r.device_id.encode(), encode_reading(r)) for r in readings_stream([(device, site)], start, 40)]
        _librdkafka_produce(broker, topic_names["readings"], batch, codec)
        total += len(batch)
    consume_all(broker, topic_names, db, total, tmp_path / "consumer.log", batch_max_wait_ms=500)
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT device_id, count(*) FROM readings WHERE device_id = ANY(%s) GROUP BY device_id",
                            ([d for d, _ in devices],)).fetchall()
    assert {d: n for d, n in rows} == {d: 40 for d, _ in devices}


def _v2_batch(values: list[tuple[bytes, bytes]], codec: int) -> bytearray:
    """A v2 record batch as a producer sends it (kafka-python's own builder)."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    now_ms = int(time.time() * 1000)
    for i, (key, value) in enumerate(values):
        builder.append(i, timestamp=now_ms, key=key, value=value, headers=[])
    return bytearray(builder.build())


def _sealed(raw: bytearray) -> bytes:
    """``raw`` with its length and CRC-32C made right again (a broker that checks only those accepts it)."""
    raw[8:12] = struct.pack(">i", len(raw) - 12)
    raw[17:21] = struct.pack(">I", crc32c.crc32c(bytes(raw[21:])))
    return bytes(raw)


def _raw_produce(broker: str, topic: str, batch: bytes) -> None:
    """One ProduceRequest v3 carrying ``batch`` as it is, over a plain socket (a client nobody vets)."""
    def string(text: str) -> bytes:
        return struct.pack(">h", len(text)) + text.encode()

    body = (struct.pack(">hhi", 0, 3, 1) + string("hand-written") + struct.pack(">hhi", -1, -1, 10_000)
            + struct.pack(">i", 1) + string(topic) + struct.pack(">ii", 1, 0) + struct.pack(">i", len(batch)) + batch)
    host, port = broker.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", sock.recv(4))[0]
        data = b""
        while len(data) < size:
            data += sock.recv(size - len(data))
    at = 4 + 4 + 2 + len(topic) + 4 + 4  # correlation id, topics, name, partitions, partition id
    assert struct.unpack_from(">h", data, at)[0] == 0, f"the broker refused the batch: {data.hex()}"


def test_a_batch_that_cannot_be_decoded_is_quarantined_whole_and_ingest_goes_on(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    devices = fleet_ids(f"u{uuid.uuid4().hex[:6]}", 1, 1)
    with psycopg.connect(db) as conn:
        register_devices(conn, devices)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    good = [(r.device_id.encode(), encode_reading(r)) for r in readings_stream(devices, start, 12)]
    bad_gzip = _v2_batch(good[3:6], codec=1)  # a gzip batch whose payload is not gzip, with a valid CRC
    bad_gzip[61:] = b"\x1f\x8bnot gzip at all" + bytes(len(bad_gzip) - 61 - 16)
    broken = _v2_batch(good[6:9], codec=0)  # two good records, then one whose header count runs off the end
    broken[-1] = 0x02
    make_topics(broker, topic_names)
    topic = topic_names["readings"]
    _raw_produce(broker, topic, _sealed(_v2_batch(good[:3], codec=0)))  # offsets 0-2
    _raw_produce(broker, topic, gz := _sealed(bad_gzip))  # 3-5
    _raw_produce(broker, topic, br := _sealed(broken))  # 6-8: 6 and 7 are stored
    _raw_produce(broker, topic, _sealed(_v2_batch(good[9:], codec=1)))  # 9-11
    consume_all(broker, topic_names, db, 12, tmp_path / "consumer.log", batch_max_wait_ms=500)
    with psycopg.connect(db) as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM readings WHERE device_id = %s ORDER BY seq",
                                           (devices[0][0],)).fetchall()]
        rows = conn.execute("SELECT source_offset, reason_code, reason_detail, raw_payload FROM quarantine "
                            "WHERE source_topic = %s ORDER BY source_offset", (topic,)).fetchall()
    first_seq = json.loads(good[0][1])["seq"]
    assert seqs == [first_seq + i for i in (0, 1, 2, 6, 7, 9, 10, 11)]
    assert [(o, c) for o, c, _, _ in rows] == [(5, "undecodable_batch"), (8, "undecodable_batch")]
    assert "offsets 3..5 (3 records, gzip" in rows[0][2]
    assert "offsets 8..8 (3 records, none" in rows[1][2] and "6..7 of it were delivered" in rows[1][2]
    assert bytes(rows[0][3])[16:] == gz[16:] and bytes(rows[1][3])[16:] == br[16:]  # as sent, past the offsets
    dlq = dlq_messages(broker, topic_names["dlq"], 2)
    assert [h["reason_code"] for _, h in dlq] == [b"undecodable_batch"] * 2


def test_a_transactional_producers_committed_readings_are_stored_under_read_committed(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    """Kafka Streams, Flink or Connect exactly-once write in transactions. The consumer reads committed data
    only (``read_committed``, ADR 0630): every committed reading is stored, the consumer does not stall at the
    last stable offset. (Tansu reports no aborted transactions in its fetch responses, so whether an aborted
    one is skipped is checked against kafka-python's own parser in ``tests/unit/consumer/test_fastrecords.py``.)"""
    db = fresh_db()
    devices = fleet_ids(f"t{uuid.uuid4().hex[:6]}", 1, 1)
    with psycopg.connect(db) as conn:
        register_devices(conn, devices)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    good = [(r.device_id.encode(), encode_reading(r)) for r in readings_stream(devices, start, 30)]
    make_topics(broker, topic_names)
    producer = confluent_kafka.Producer({"bootstrap.servers": broker, "transactional.id": f"tx-{uuid.uuid4().hex[:6]}",
                                         "compression.type": "lz4"})
    producer.init_transactions(30)
    for part in (good[:10], good[10:20], good[20:]):
        producer.begin_transaction()
        for key, value in part:
            producer.produce(topic_names["readings"], key=key, value=value, partition=0)
        producer.commit_transaction(30)
    # each commit adds a control record: offsets 0-9, 10 (marker), 11-20, 21, 22-31, 32; once idle the consumer
    # commits its position past the final marker too (no lag of 1 left, nothing read again after a restart)
    consume_all(broker, topic_names, db, 33, tmp_path / "consumer.log", batch_max_wait_ms=500,
                consumer_isolation_level="read_committed")
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM readings WHERE device_id = %s", (devices[0][0],)).fetchone()
    assert row is not None and row[0] == 30
