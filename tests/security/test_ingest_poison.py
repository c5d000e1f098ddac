"""Hostile messages against the real ingest path (issue 11, findings 2, 3, 4 and 13).

Each test runs ``python -m consumer`` as a subprocess on a real Tansu broker and a real
PostgreSQL database, feeds it what an attacker (or a broken integrator) would send, and checks
that ingest keeps going: the bad message is quarantined with its reason (and dead-lettered), the
good messages of the same batch are stored, every offset is committed, and the consumer exits 0
on SIGTERM. Before the fixes each of these stopped ingest for good.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "consumer"))
from ingest_helpers import (
    committed_offsets,
    consume_all,
    consumer_env,
    dlq_messages,
    make_topics,
    produce,
    start_consumer,
    stop,
    wait_for,
)

from heliosgrid.contract import encode_reading
from heliosgrid.ingest.synthetic import fleet_ids, readings_stream, register_devices

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _setup(db: str, per_device: int, start: datetime) -> tuple[list[tuple[str, str]], list[tuple[bytes, bytes]]]:
    devices = fleet_ids(f"p{uuid.uuid4().hex[:6]}", 1, 2)
    with psycopg.connect(db) as conn:
        register_devices(conn, devices)
    good = [(r.device_id.encode(), encode_reading(r)) for r in readings_stream(devices, start, per_device)]
    return devices, good


def _stored(db: str, devices: list[tuple[str, str]]) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM readings WHERE device_id = ANY(%s)", ([d for d, _ in devices],)).fetchone()
    assert row is not None
    return int(row[0])


def _quarantine(db: str, topic: str) -> list[tuple[int, str, str, str | None, bytes]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT source_offset, reason_code, reason_detail, message_key, raw_payload FROM quarantine "
            "WHERE source_topic = %s ORDER BY source_offset", (topic,)).fetchall()
    return [(int(o), str(c), str(d), k, bytes(p)) for o, c, d, k, p in rows]


def test_nul_bytes_nan_literals_and_ancient_timestamps_are_quarantined_and_the_batch_is_stored(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    devices, good = _setup(db, 10, now - timedelta(hours=1))
    dev, _site = devices[0]
    base = json.loads(good[0][1])
    seq = base["seq"] + 1000

    def variant(**changes: object) -> bytes:
        return json.dumps(dict(base, seq=seq, **changes)).encode()

    bad: list[tuple[str, bytes | None, bytes]] = [
        ("missing_field", b"ab\x00cd", b'{"schema_version":1}'),  # the kcat reproduction of finding 2
        ("key_mismatch", dev.encode() + b"\x00", variant()),
        ("malformed_json", dev.encode(), variant().replace(b'"seq"', b'"extra": NaN, "seq"')),
        ("malformed_json", dev.encode(), variant().replace(b'"poa_w_m2": ' + json.dumps(base["poa_w_m2"]).encode(),
                                                           b'"poa_w_m2": NaN')),
        ("malformed_json", dev.encode(), variant().replace(b'"seq"', b'"x": [1, -Infinity], "seq"')),
        ("stale_timestamp", dev.encode(), variant(ts="1971-01-01T00:00:00Z")),
        ("stale_timestamp", dev.encode(), variant(ts="1900-01-01T00:00:00Z")),
        ("stale_timestamp", dev.encode(), variant(ts="0001-01-01T00:00:00Z")),
        ("stale_timestamp", dev.encode(), variant(ts=(now - timedelta(days=45)).isoformat())),  # > raw retention
    ]
    assert all(b"NaN" in v or b"Infinity" in v for c, _, v in bad if c == "malformed_json")
    stream: list[tuple[bytes | None, bytes | None]] = []
    for i, msg in enumerate(good):
        stream.append(msg)
        if i < len(bad):
            stream.append((bad[i][1], bad[i][2]))
    make_topics(broker, topic_names)
    total = produce(broker, topic_names["readings"], stream, partition=0)
    text = consume_all(broker, topic_names, db, total, tmp_path / "consumer.log", batch_max_messages=1000,
                        batch_max_wait_ms=1000)

    assert "database error (retry in" not in text
    assert _stored(db, devices) == len(good)
    q = _quarantine(db, topic_names["readings"])
    assert [c for _, c, _, _, _ in q] == [c for c, _, _ in bad]
    assert [p for _, _, _, _, p in q] == [v for _, _, v in bad]
    assert q[0][3] == "ab\\x00cd"  # the key, NUL made visible, nothing lost (raw bytes in the DLQ)
    nan_measure = q[3][2]
    assert "NaN" in nan_measure and "100000" not in nan_measure and "1800" not in nan_measure
    dlq = dlq_messages(broker, topic_names["dlq"], len(bad))
    assert sorted(h["reason_code"].decode() for _, h in dlq) == sorted(c for c, _, _ in bad)


def test_a_row_the_database_refuses_is_quarantined_alone_and_never_retried_as_an_outage(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    devices, good = _setup(db, 15, datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1))
    victim = json.loads(good[7][1])
    with psycopg.connect(db) as conn:  # a rule of the database that the contract does not know
        conn.execute(f"ALTER TABLE readings ADD CONSTRAINT site_rule_no_seq CHECK (seq <> {int(victim['seq'])} "
                     f"OR device_id <> '{victim['device_id']}')")
    make_topics(broker, topic_names)
    total = produce(broker, topic_names["readings"], good, partition=0)
    text = consume_all(broker, topic_names, db, total, tmp_path / "consumer.log", batch_max_messages=1000,
                        batch_max_wait_ms=1000, db_retry_budget_s=5)

    assert "database error (retry in" not in text
    assert _stored(db, devices) == len(good) - 1
    q = _quarantine(db, topic_names["readings"])
    assert [(o, c) for o, c, _, _, _ in q] == [(7, "db_rejected")]
    assert "site_rule_no_seq" in q[0][2] and "23514" in q[0][2]  # constraint name and SQLSTATE check_violation
    assert q[0][4] == good[7][1]
    dlq = dlq_messages(broker, topic_names["dlq"], 1)
    assert [h["reason_code"] for _, h in dlq] == [b"db_rejected"]


def test_a_2_mb_invalid_message_is_quarantined_whole_and_dead_lettered_bounded(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    devices, good = _setup(db, 5, datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1))
    huge = b'{"schema_version": 1, "junk": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    make_topics(broker, topic_names)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", max_request_size=8 * 1024 * 1024)
    try:
        for key, value in good[:5]:
            producer.send(topic_names["readings"], key=key, value=value, partition=0)
        producer.send(topic_names["readings"], key=b"big", value=huge, partition=0)
        for key, value in good[5:]:
            producer.send(topic_names["readings"], key=key, value=value, partition=0)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    total = len(good) + 1
    consume_all(broker, topic_names, db, total, tmp_path / "consumer.log")

    assert _stored(db, devices) == len(good)
    q = _quarantine(db, topic_names["readings"])
    assert [(o, c) for o, c, _, _, _ in q] == [(5, "missing_field")]
    assert q[0][4] == huge  # the full payload stays in quarantine
    dlq = dlq_messages(broker, topic_names["dlq"], 1)
    assert len(dlq) == 1
    value, headers = dlq[0]
    assert value == huge[: 64 * 1024]
    assert headers["payload_size"] == str(len(huge)).encode()
    assert headers["payload_sha256"] == hashlib.sha256(huge).hexdigest().encode()
    assert headers["payload_truncated"] == b"true"


def test_rollups_are_refreshed_while_the_consumer_is_idle(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    devices, first = _setup(db, 5, start)
    later = [(r.device_id.encode(), encode_reading(r)) for r in readings_stream(devices, start + timedelta(hours=1), 5)]
    make_topics(broker, topic_names)
    group = f"idle-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "consumer.log"
    proc = start_consumer(consumer_env(db, broker, topic_names, group, consumer_rollup_refresh_interval_s=4), log)
    try:
        produce(broker, topic_names["readings"], first, partition=0)
        wait_for(lambda: committed_offsets(broker, group, topic_names["readings"], 1)[0] == len(first), 60,
                 "first batch committed")
        produce(broker, topic_names["readings"], later, partition=0)  # within the refresh interval
        wait_for(lambda: committed_offsets(broker, group, topic_names["readings"], 1)[0] == len(first) + len(later),
                 30, "second batch committed")
        committed_at = time.monotonic()

        def fresh() -> bool:
            with psycopg.connect(db) as conn:
                dirty = conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone()
                later_buckets = conn.execute("SELECT count(*) FROM readings_15m WHERE bucket >= %s",
                                             (start + timedelta(hours=1),)).fetchone()
            return dirty == (0,) and later_buckets is not None and later_buckets[0] > 0

        wait_for(fresh, 30, "the idle consumer to refresh the rollups of its last batch", every_s=0.5)
        assert time.monotonic() - committed_at < 30
        assert proc.poll() is None
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
