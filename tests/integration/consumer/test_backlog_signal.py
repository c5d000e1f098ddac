"""The consumer tells its rollup refresher it is draining a backlog from the high watermark behind the
batch, not only from full batches (a batch can close short while the next fetch is in flight): ADR 0230."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from ingest_helpers import make_topics, wait_for
from kafka import KafkaProducer, TopicPartition

from consumer.service import IngestService
from heliosgrid.contract import encode_reading
from heliosgrid.db.writer import ReadingRow
from heliosgrid.ingest.synthetic import fleet_ids, readings_stream, register_devices
from heliosgrid.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MESSAGES = 230
BATCH = 40


def _produce(broker: str, topic: str, devices: list[tuple[str, str]], partitions: int = 1) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=200, batch_size=1 << 20)
    for i, r in enumerate(readings_stream(devices, start, 100)):
        if i == MESSAGES:
            break
        producer.send(topic, key=r.device_id.encode(), value=encode_reading(r), partition=i % partitions)
    producer.flush(timeout=30)
    producer.close()


def test_backlog_is_the_high_watermark_minus_the_next_position_over_every_partition_polled(
    pg_db: str, broker: str, topic_names: dict[str, str]
) -> None:
    devices = fleet_ids(f"bl{uuid.uuid4().hex[:6]}", 2, 3)
    make_topics(broker, topic_names, partitions=2)
    _produce(broker, topic_names["readings"], devices, partitions=2)
    settings = load_settings(
        kafka_bootstrap_servers=broker, topic_readings=topic_names["readings"], topic_dlq=topic_names["dlq"],
        consumer_group=f"bl-{uuid.uuid4().hex[:8]}", consumer_metrics_port=0, batch_max_messages=BATCH,
    )
    service = IngestService(settings, pg_db)
    assert service._connect_kafka()
    consumer = service._consumer
    assert consumer is not None
    tp0, tp1 = (TopicPartition(topic_names["readings"], p) for p in (0, 1))
    try:
        def known() -> bool:
            return {tp0, tp1} <= consumer.assignment() and None not in (consumer.highwater(tp0), consumer.highwater(tp1))

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not known():
            service._collect()
        high0, high1 = consumer.highwater(tp0), consumer.highwater(tp1)
        assert high0 is not None and high1 is not None and high0 + high1 == MESSAGES
        polled = dict(service._next_positions)
        assert service._backlog() == sum(h - polled[tp] for tp, h in ((tp0, high0), (tp1, high1)) if tp in polled)
        # A batch that held the tail of partition 0 still sees partition 1's backlog.
        service._next_positions.update({tp0: high0, tp1: 10})
        assert service._backlog() == high1 - 10
        service._next_positions[tp1] = high1
        assert service._backlog() == 0
        service._on_revoked({tp1})  # a revoked partition no longer counts
        assert set(service._next_positions) == {tp0}
    finally:
        service._close(commit_heartbeat=False)


def test_full_batches_mean_behind_and_the_last_short_batch_means_caught_up(
    pg_db: str, broker: str, topic_names: dict[str, str]
) -> None:
    devices = fleet_ids(f"bm{uuid.uuid4().hex[:6]}", 2, 3)
    with psycopg.connect(pg_db) as conn:
        register_devices(conn, devices)
    make_topics(broker, topic_names, partitions=1)
    _produce(broker, topic_names["readings"], devices)
    settings = load_settings(
        kafka_bootstrap_servers=broker, topic_readings=topic_names["readings"], topic_dlq=topic_names["dlq"],
        consumer_group=f"bm-{uuid.uuid4().hex[:8]}", consumer_metrics_port=0, batch_max_messages=BATCH,
        batch_max_wait_ms=5000,
    )
    seen: list[tuple[int, bool]] = []

    def on_commit(rows: Sequence[ReadingRow], _at: float) -> None:
        seen.append((len(rows), service.rollups.behind))

    service = IngestService(settings, pg_db, on_commit=on_commit)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: sum(n for n, _ in seen) >= MESSAGES or not thread.is_alive(), 90, "all readings")
        wait_for(lambda: not service.rollups.behind, 10, "the caught-up signal")
    finally:
        service.request_stop()
        thread.join(timeout=30)
    assert sum(n for n, _ in seen) == MESSAGES
    assert any(behind for _, behind in seen)  # full batches while the backlog drained
