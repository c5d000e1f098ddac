"""The writer stage of the consumer: one batch at a time in a writer thread, while the next is polled.

:class:`Batch` is one micro-batch on its way (records → decoded messages → stored outcome).
:class:`BatchWriter` runs a batch's database transaction and its dead-letter flush
(:meth:`consumer.checkpoint.Checkpoint.make_durable`) in a single writer thread, so the polling
thread can fetch and decode the next batch meanwhile. At most one batch is in the writer at a
time: offsets are committed in batch order by the polling thread (kafka-python's consumer is not
thread-safe), each only after its own batch is durable, and an outage holds everything behind the
failed batch (ADR 0101).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from consumer.checkpoint import Checkpoint
from consumer.database import DatabaseSession, PeriodicTask
from consumer.retry import OUTAGE_ERRORS, error_line
from heliosgrid.contract import TimestampWindow
from heliosgrid.db.connection import DatabaseUnavailable
from heliosgrid.ingest.batch import BatchOutcome, DecodedBatch, decode_batch
from heliosgrid.ingest.metrics import ConsumerMetrics
from heliosgrid.ingest.store import StoredBatch, is_data_error, store_batch
from heliosgrid.settings import redact_url

log = logging.getLogger("heliosgrid.consumer")

BeatDetails = Callable[[int, int], dict[str, Any]]
"""(messages, rejects) of the batch → the heartbeat's details."""
RetryThroughOutage = Callable[["Batch", BaseException], None]
"""Retries a batch whose attempt failed with an outage error until it is stored (or raises)."""


class DbRejected(Exception):
    """A data error survived the isolating write (the quarantine row itself was refused)."""


@dataclass
class Batch:
    """One micro-batch on its way: records, decoded messages, then what the database stored."""

    records: list[ConsumerRecord]
    started: float
    """``time.monotonic()`` when its first records arrived."""
    decoded: DecodedBatch
    stored: StoredBatch | None = None

    @classmethod
    def decode(cls, records: list[ConsumerRecord], started: float, window: TimestampWindow) -> Batch:
        """Decode ``records`` against the contract (one ``now`` for the batch)."""
        return cls(list(records), started, decode_batch(records, datetime.now(UTC), window))

    def restrict_to(self, owned: Collection[TopicPartition]) -> None:
        """Keep only the records (and decoded messages) of partitions in ``owned``."""
        keys = {(tp.topic, tp.partition) for tp in owned}
        if all((r.topic, r.partition) in keys for r in self.records):
            return
        self.records = [r for r in self.records if (r.topic, r.partition) in keys]
        d = self.decoded
        kept = [(row, m) for row, m in zip(d.rows, d.sources, strict=True) if (m.topic, m.partition) in keys]
        self.decoded = DecodedBatch(
            rows=[row for row, _ in kept], sources=[m for _, m in kept],
            rejects=[q for q in d.rejects if (q.source_topic, q.source_partition) in keys], fast_path=d.fast_path,
        )

    def drop(self, revoked: Collection[TopicPartition]) -> None:
        """Remove the records of ``revoked`` partitions."""
        gone = {(tp.topic, tp.partition) for tp in revoked}
        self.restrict_to({TopicPartition(r.topic, r.partition) for r in self.records} - {TopicPartition(*g) for g in gone})


class BatchWriter:
    """The writer thread and its one in-flight batch (see the module docstring)."""

    def __init__(self, db: DatabaseSession, checkpoint: Checkpoint, metrics: ConsumerMetrics,
                 periodic: PeriodicTask, beat_details: BeatDetails) -> None:
        self.db = db
        self.checkpoint = checkpoint
        self.metrics = metrics
        self.periodic = periodic
        self.beat_details = beat_details
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-db-writer")
        self._inflight: tuple[Batch, Future[None]] | None = None
        self.retrying: Batch | None = None
        """The batch being retried through an outage (by the polling thread)."""

    def submit(self, batch: Batch) -> None:
        """Start ``batch`` in the writer thread (the previous one must be finished)."""
        if self._inflight is not None:
            raise RuntimeError("BatchWriter.submit: the previous batch is still in flight")
        self._inflight = (batch, self._pool.submit(self.attempt, batch))

    def attempt(self, batch: Batch) -> None:
        """One attempt: the batch's transaction, then its dead letters (durable before any offset commit).

        Outage-class errors propagate (the connection is dropped, nothing was committed); a data
        error that survived the isolating write becomes :class:`DbRejected`.
        """
        try:
            conn = self.db.connection()
            t0 = time.monotonic()

            def beat(c: psycopg.Connection[Any], outcome: BatchOutcome) -> None:
                self.db.beat(c, self.beat_details(len(batch.records), len(outcome.rejects)))

            batch.stored = store_batch(conn, batch.decoded, self.db.registry, beat)
            self.metrics.write_latency.observe(time.monotonic() - t0)
        except psycopg.Error as exc:
            if is_data_error(exc):  # not an outage: retrying the same rows would fail forever
                raise DbRejected("the database refused a batch even after isolating its messages: "
                                 f"{redact_url(str(exc)).strip()}") from None
            self.db.drop()
            raise
        except DatabaseUnavailable:
            self.db.drop()
            raise
        self.checkpoint.make_durable(batch.records, batch.stored.outcome.rejects)
        self.periodic.maybe_run()

    def _take(self) -> tuple[Batch, BaseException | None] | None:
        """Wait for the in-flight batch: it and its outage error (None when stored), or None if none."""
        if self._inflight is None:
            return None
        batch, future = self._inflight
        self._inflight = None
        try:
            future.result()
        except OUTAGE_ERRORS as exc:
            return batch, exc
        return batch, None

    def finish(self, retry: RetryThroughOutage) -> Batch | None:
        """Wait for the in-flight batch; on an outage error let ``retry`` retry it. The stored batch, or None."""
        taken = self._take()
        if taken is None:
            return None
        batch, exc = taken
        if exc is not None:
            self.retrying = batch
            try:
                retry(batch, exc)
            finally:
                self.retrying = None
        return batch if batch.records and batch.stored is not None else None

    def on_revoked(self, revoked: Collection[TopicPartition]) -> Batch | None:
        """A rebalance revokes ``revoked``: the in-flight batch if it got stored (commit it now), else None.

        A batch being retried loses the revoked partitions' records; a batch whose attempt
        failed is dropped uncommitted (its records are re-delivered to their new owner).
        """
        if self.retrying is not None:
            self.retrying.drop(revoked)
            return None
        taken = self._take()
        if taken is None:
            return None
        batch, exc = taken
        if exc is not None:
            log.warning("rebalance: in-flight batch of %d messages failed in the database and is not committed "
                        "(re-delivered): %s", len(batch.records), error_line(exc))
            return None
        return batch

    def shutdown(self) -> None:
        """Wait for the writer thread to end."""
        self._pool.shutdown(wait=True)
