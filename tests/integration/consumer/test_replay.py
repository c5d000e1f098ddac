"""DLQ replay: chosen reasons go back to the readings topic with key and bytes intact, once."""

from __future__ import annotations

import uuid

import pytest
from ingest_helpers import make_topics
from kafka import KafkaConsumer, KafkaProducer

from heliosgrid.ingest.replay import replay_dlq
from heliosgrid.settings import load_settings

pytestmark = pytest.mark.integration


def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
                      enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        return [(m.key, m.value) for m in c]
    finally:
        c.close()


def test_replay_republishes_only_the_chosen_reasons_and_resumes_after_the_last_one(
    broker: str, topic_names: dict[str, str]
) -> None:
    make_topics(broker, topic_names)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    dlq = [
        (b"inv-1", b'{"a": 1}', "unknown_device"),
        (b"inv-2", b"{broken", "malformed_json"),
        (b"inv-3", b'{"b": 2}', "unknown_device"),
    ]
    for key, value, reason in dlq:
        producer.send(topic_names["dlq"], key=key, value=value, headers=[("reason_code", reason.encode())])
    producer.flush()
    producer.close()
    settings = load_settings(kafka_bootstrap_servers=broker, topic_readings=topic_names["readings"],
                             topic_dlq=topic_names["dlq"], consumer_group=f"g-{uuid.uuid4().hex[:8]}")

    first = replay_dlq(settings, {"unknown_device"}, idle_timeout_s=2)
    assert (first.replayed, first.skipped) == ({"unknown_device": 2}, {"malformed_json": 1})
    assert sorted(_read_all(broker, topic_names["readings"])) == [(b"inv-1", b'{"a": 1}'), (b"inv-3", b'{"b": 2}')]

    again = replay_dlq(settings, None, idle_timeout_s=2)
    assert again.total_replayed == 0 and not again.skipped


def test_replay_of_every_reason_never_republishes_an_undecodable_batch(broker: str, topic_names: dict[str, str]) -> None:
    """An ``undecodable_batch`` dead letter holds a raw record batch, not a message (ADR 0600)."""
    make_topics(broker, topic_names)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    producer.send(topic_names["dlq"], key=None, value=b"\x00" * 70, headers=[("reason_code", b"undecodable_batch")])
    producer.send(topic_names["dlq"], key=b"inv-1", value=b'{"a": 1}', headers=[("reason_code", b"unknown_device")])
    producer.flush()
    producer.close()
    settings = load_settings(kafka_bootstrap_servers=broker, topic_readings=topic_names["readings"],
                             topic_dlq=topic_names["dlq"], consumer_group=f"g-{uuid.uuid4().hex[:8]}")
    result = replay_dlq(settings, None, idle_timeout_s=2)
    assert (result.replayed, result.skipped) == ({"unknown_device": 1}, {"undecodable_batch": 1})
    assert _read_all(broker, topic_names["readings"]) == [(b"inv-1", b'{"a": 1}')]
