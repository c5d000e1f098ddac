"""The commit sequence of one batch: database commit → dead letters flushed → Kafka offsets committed.

As quix-streams' ``Checkpoint`` (flush sinks → flush producer → commit), in two steps because
kafka-python's consumer is not thread-safe while its producer is:

1. :meth:`Checkpoint.make_durable` — called right after the batch's database transaction
   committed (in the writer thread): the test crash hook, then the rejects are published to the
   dead-letter topic and the producer is flushed. After it returns, everything the batch owes
   the outside world is durable except its offsets.
2. :meth:`Checkpoint.commit_offsets` — called by the polling thread, in batch order: the highest
   offset + 1 per partition of the batch. A commit refused after a rebalance is logged and
   skipped (the new owner re-reads the batch; the upsert makes that harmless).

A crash between any two steps re-delivers the batch: readings are upserted on
``(device_id, ts)`` and quarantine rows are unique on their source position (ADR 0015).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from kafka import TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from heliosgrid.db.writer import QuarantineRow
from heliosgrid.ingest.batch import SourceMessage
from heliosgrid.ingest.deadletter import dead_letter

log = logging.getLogger("heliosgrid.consumer")

AfterDbCommit = Callable[[int], None]
"""Hook called with the number of database commits so far, between a batch's DB commit and its
dead letters / offsets (tests inject one that ``os._exit(137)``s to prove nothing is lost)."""


class DlqFailure(Exception):
    """Rejects could not be published to the dead-letter topic (offsets are then not committed)."""


class DeadLetterProducer(Protocol):
    """The part of ``KafkaProducer`` used here."""

    def send(self, topic: str, value: Any = ..., key: Any = ..., headers: Any = ...) -> Any: ...
    def flush(self, timeout: float | None = ...) -> None: ...


class OffsetCommitter(Protocol):
    """The part of ``KafkaConsumer`` used here."""

    def commit(self, offsets: Any = ...) -> None: ...


def next_offsets(records: Iterable[SourceMessage]) -> dict[TopicPartition, int]:
    """Highest offset + 1 per partition of ``records`` (what to commit for them)."""
    nexts: dict[tuple[str, int], int] = {}  # plain tuples: no TopicPartition per record
    for r in records:
        key = (r.topic, r.partition)
        if r.offset >= nexts.get(key, -1):
            nexts[key] = r.offset + 1
    return {TopicPartition(t, p): off for (t, p), off in nexts.items()}


class Checkpoint:
    """Owns the order DB commit → dead-letter flush → offset commit (see the module docstring)."""

    def __init__(self, producer: DeadLetterProducer, dlq_topic: str, dlq_max_payload_bytes: int,
                 after_db_commit: AfterDbCommit | None = None) -> None:
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.dlq_max_payload_bytes = dlq_max_payload_bytes
        self.after_db_commit = after_db_commit
        self.db_commits = 0
        self.committed: dict[TopicPartition, int] = {}
        """Next offset to consume per owned partition, as last committed here."""
        self.last_commit_at: float | None = None
        """``time.time()`` of the last successful offset commit."""

    def make_durable(self, records: Sequence[SourceMessage], rejects: Sequence[QuarantineRow]) -> None:
        """Step 1, right after the DB commit: crash hook, then publish and flush the dead letters.

        Raises :class:`DlqFailure` when the dead-letter topic cannot take them.
        """
        self.db_commits += 1
        if self.after_db_commit is not None:
            self.after_db_commit(self.db_commits)
        if not rejects:
            return
        by_pos = {(r.topic, r.partition, r.offset): r for r in records}
        try:
            for q in rejects:
                rec = by_pos.get((q.source_topic, q.source_partition, q.source_offset))
                letter = dead_letter(q, rec.key if rec is not None else None, rec.value if rec is not None else None,
                                     self.dlq_max_payload_bytes)
                self.producer.send(self.dlq_topic, key=letter.key, value=letter.value, headers=letter.headers)
            self.producer.flush(timeout=30)
        except KafkaError as exc:
            raise DlqFailure(
                f"cannot publish {len(rejects)} rejects to DLQ topic {self.dlq_topic}: {exc}; "
                "offsets not committed (the batch will be re-delivered)"
            ) from None

    def commit_offsets(self, consumer: OffsetCommitter, records: Iterable[SourceMessage]) -> bool:
        """Step 2 (polling thread, batch order): commit the batch's offsets; False if a rebalance refused it."""
        offsets = next_offsets(records)
        if not offsets:
            return True
        try:
            consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()})
        except CommitFailedError as exc:
            # The group rebalanced during the DB write: the batch is stored, its offsets will be
            # re-delivered to the new owner and the upsert makes that harmless.
            log.warning("offset commit refused after a rebalance (batch will be re-delivered): %s", exc)
            return False
        self.committed.update(offsets)
        self.last_commit_at = time.time()
        return True

    def commit_positions(self, consumer: OffsetCommitter, positions: Mapping[TopicPartition, int]) -> None:
        """Idle, every polled record stored and committed: commit the positions that lie beyond this member's
        committed offsets. They passed only records that yield nothing — a transaction's closing marker, an
        aborted transaction (ADR 0630) — which would otherwise show as a lag of 1 and be read again after a
        restart. Only partitions this member has committed before."""
        ahead = {tp: pos for tp, pos in positions.items() if tp in self.committed and pos > self.committed[tp]}
        if not ahead:
            return
        try:
            consumer.commit({tp: OffsetAndMetadata(pos, "", -1) for tp, pos in ahead.items()})
        except CommitFailedError as exc:
            log.info("position commit refused by a rebalance (nothing to re-deliver): %s", exc)
            return
        self.committed.update(ahead)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions revoked: their committed offsets are the new owner's business now."""
        for tp in partitions:
            self.committed.pop(tp, None)
