"""Replay the dead-letter topic into the readings topic (after fixing what made messages fail).

Typical use: devices were unknown because the fleet was not registered yet → ``heliosgrid fleet
sync`` → ``heliosgrid consumer replay-dlq --reason unknown_device``. Each replayed message keeps
its original key and bytes; the consumer validates it again (a message that is still bad goes
back to the DLQ with its reason, a reading already stored is absorbed by the upsert).

Progress is kept by the consumer group ``<consumer_group>.dlq-replay`` on the DLQ topic and
committed only after the re-published messages are acknowledged (at-least-once), so an
interrupted replay resumes where it stopped. Records whose payload was cut to bound their size
(``payload_truncated: true``, see :mod:`heliosgrid.ingest.deadletter`) are not re-published:
they are counted under ``skipped["truncated"]``; the whole message is in ``quarantine``. Nor are
``undecodable_batch`` dead letters: their value is a raw record batch, not a message (counted
under ``skipped["undecodable_batch"]``; recover its records from the bytes in ``quarantine``).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from heliosgrid.ingest.deadletter import is_truncated
from heliosgrid.settings import Settings

JOIN_TIMEOUT_S = 60.0
TRUNCATED = "truncated"
"""``skipped`` key of dead-letter records whose payload was cut (replay those from ``quarantine``)."""
NOT_A_MESSAGE = "undecodable_batch"
"""Reason of dead letters that hold a raw record batch (never re-published)."""


@dataclass
class ReplayResult:
    """What a replay did: messages re-published and skipped (other reasons), per reason code."""

    replayed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def total_replayed(self) -> int:
        return sum(self.replayed.values())


def replay_dlq(
    settings: Settings, reasons: Collection[str] | None = None, max_messages: int | None = None,
    idle_timeout_s: float = 5.0,
) -> ReplayResult:
    """Re-publish DLQ messages (optionally only ``reasons``) to ``settings.topic_readings``.

    Stops when the DLQ has been idle for ``idle_timeout_s`` or after ``max_messages``.
    """
    servers = settings.kafka_bootstrap_servers.split(",")
    consumer = KafkaConsumer(
        settings.topic_dlq, bootstrap_servers=servers, group_id=f"{settings.consumer_group}.dlq-replay",
        enable_auto_commit=False, auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
    )
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
    result = ReplayResult()
    done = 0
    try:
        join_deadline = time.monotonic() + JOIN_TIMEOUT_S
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_timeout_s:
            if max_messages is not None and done >= max_messages:
                break
            polled = consumer.poll(timeout_ms=500, max_records=500)
            if not consumer.assignment():  # still joining the group: not idle yet
                if time.monotonic() > join_deadline:
                    raise TimeoutError(f"could not join consumer group on {settings.topic_dlq} "
                                       f"within {JOIN_TIMEOUT_S:g} s")
                idle_since = time.monotonic()
                continue
            if not polled:
                continue
            idle_since = time.monotonic()
            offsets: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp, records in polled.items():
                for rec in records:
                    if max_messages is not None and done >= max_messages:
                        break
                    headers = dict(rec.headers or [])
                    reason = headers.get("reason_code", b"unknown").decode("utf-8", "replace")
                    if is_truncated(headers):  # a cut record: the whole message is only in quarantine
                        result.skipped[TRUNCATED] = result.skipped.get(TRUNCATED, 0) + 1
                    elif reason == NOT_A_MESSAGE:
                        result.skipped[reason] = result.skipped.get(reason, 0) + 1
                    elif reasons is None or reason in reasons:
                        producer.send(settings.topic_readings, key=rec.key, value=rec.value)
                        result.replayed[reason] = result.replayed.get(reason, 0) + 1
                    else:
                        result.skipped[reason] = result.skipped.get(reason, 0) + 1
                    done += 1
                    offsets[tp] = OffsetAndMetadata(rec.offset + 1, "", -1)
            producer.flush(timeout=60)
            consumer.commit(offsets)
    finally:
        producer.close(timeout=10)
        consumer.close(autocommit=False)
    return result
