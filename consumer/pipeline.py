"""The writer stage of the pipelined consumer: batches are written in a writer thread while the next are polled.

:class:`Batch` is one micro-batch on its way (records → decoded messages → stored outcome).
:class:`BatchWriter` runs each batch's database transaction and its dead-letter flush
(:meth:`consumer.checkpoint.Checkpoint.make_durable`) in ONE writer thread, in submission order,
so the polling thread fetches and decodes the next batches meanwhile. The guarantee is unchanged
(ADR 0015, 0101): offsets are committed in batch order by the polling thread (kafka-python's
consumer is not thread-safe), each only after its own batch and every earlier one are durable;
rows, quarantine rows and dead letters are written in order per partition (one writer, FIFO, and
a failed batch halts the ones behind it until it is retried); a rebalance drains the writer and
commits what it stored before the partitions move.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Protocol

import psycopg
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from consumer.checkpoint import Checkpoint
from consumer.database import BATCH_BEAT_MIN_INTERVAL_S, DatabaseSession
from consumer.retry import OUTAGE_ERRORS, error_line
from consumer.stages import StageClock
from heliosgrid.contract import TimestampWindow
from heliosgrid.db.connection import DatabaseUnavailable
from heliosgrid.ingest.batch import BatchOutcome, DecodedBatch, DeviceRegistry, decode_batch
from heliosgrid.ingest.metrics import ConsumerMetrics
from heliosgrid.ingest.store import PreparedBatch, StoredBatch, is_data_error, prepare_batch, store_batch
from heliosgrid.settings import redact_url

log = logging.getLogger("heliosgrid.consumer")
_PARTITION_OF = attrgetter("topic", "partition")

BeatDetails = Callable[[int, int], dict[str, Any]]
"""(messages, rejects) of the batch → the heartbeat's details."""
RetryThroughOutage = Callable[["Batch", BaseException | None], None]
"""Retries a batch until it is stored (or raises): after its outage error, or (None) at once."""


class Periodic(Protocol):
    """Told after every durable batch (:class:`consumer.rollup_refresher.RollupRefresher`: must not block)."""

    def maybe_run(self) -> bool: ...


class DbRejected(Exception):
    """A data error survived the isolating write (the quarantine row itself was refused)."""


@dataclass
class Batch:
    """One micro-batch on its way: records, decoded messages, then what the database stored."""

    records: list[ConsumerRecord]
    started: float
    """``time.monotonic()`` when its first records arrived."""
    decoded: DecodedBatch
    prepared: PreparedBatch | None = None
    """Device check, de-duplication and COPY encoding done by the polling thread (None: by the writer)."""
    stored: StoredBatch | None = None

    @classmethod
    def decode(cls, records: list[ConsumerRecord], started: float, window: TimestampWindow,
               registry: DeviceRegistry | None = None) -> Batch:
        """Decode ``records`` against the contract (one ``now`` for the batch); with ``registry`` also
        prepare its write (:func:`heliosgrid.ingest.store.prepare_batch`) while the writer is busy."""
        decoded = decode_batch(records, datetime.now(UTC), window)
        return cls(list(records), started, decoded, prepare_batch(decoded, registry) if registry is not None else None)

    def restrict_to(self, owned: Collection[TopicPartition]) -> None:
        """Keep only the records (and decoded messages) of partitions in ``owned``."""
        keys = {(tp.topic, tp.partition) for tp in owned}
        if keys.issuperset(map(_PARTITION_OF, self.records)):  # the usual case, checked in C
            return
        self.records = [r for r in self.records if (r.topic, r.partition) in keys]
        self.prepared = None  # prepared for the records dropped here too: the writer redoes it
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


class NotAttempted(Exception):
    """The writer thread skipped a batch because an earlier one failed (it is retried in order)."""


@dataclass(eq=False)
class BatchWriter:
    """The writer thread and its in-flight batches, oldest first (see the module docstring).

    Up to ``depth`` batches are in flight: while batch N is written, batch N+1 waits decoded in
    the writer's queue, so the writer starts it the moment N is durable instead of waiting for
    the polling thread to commit N's offsets first. When an attempt fails, the writer *halts*:
    the batches queued behind it are not attempted (:class:`NotAttempted`), so nothing is written
    out of order; the polling thread retries them in order (:meth:`completed`).
    """

    db: DatabaseSession
    checkpoint: Checkpoint
    metrics: ConsumerMetrics
    periodic: Periodic
    beat_details: BeatDetails
    depth: int = 2
    stages: StageClock | None = None

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-db-writer")
        self._inflight: deque[tuple[Batch, Future[None]]] = deque()
        self._halted = False
        self.retrying: list[Batch] = []
        """Batches being retried through an outage by the polling thread, oldest first."""

    def busy(self) -> bool:
        """A batch is queued for or being written by the writer thread (safe from any thread)."""
        return any(not future.done() for _, future in list(self._inflight))  # list(): one atomic copy

    @property
    def full(self) -> bool:
        """``depth`` batches in flight: wait for the oldest before submitting another."""
        return len(self._inflight) >= self.depth

    def submit(self, batch: Batch) -> None:
        """Queue ``batch`` for the writer thread (behind the batches in flight)."""
        self._inflight.append((batch, self._pool.submit(self._run, batch)))

    def _run(self, batch: Batch) -> None:
        """Writer thread: attempt ``batch`` unless an earlier batch failed; halt on any failure."""
        if self._halted:
            raise NotAttempted()
        started = self.stages.writer_started() if self.stages is not None else 0.0
        try:
            self.attempt(batch)
        except BaseException:
            self._halted = True
            raise
        finally:
            if self.stages is not None:
                self.stages.writer_finished(started)

    def attempt(self, batch: Batch) -> None:
        """One attempt: the batch's transaction, then its dead letters (durable before any offset commit).

        Outage-class errors propagate (the connection is dropped, nothing was committed); a data
        error that survived the isolating write becomes :class:`DbRejected`.
        """
        try:
            conn = self.db.connection()
            t0 = time.monotonic()

            def beat(c: psycopg.Connection[Any], outcome: BatchOutcome) -> None:
                self.db.beat(c, self.beat_details(len(batch.records), len(outcome.rejects)),
                             min_interval_s=BATCH_BEAT_MIN_INTERVAL_S)

            batch.stored = store_batch(conn, batch.decoded, self.db.registry, beat, batch.prepared)
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

    def _settle(self) -> list[Batch]:
        """Wait for every batch in flight; return them (results ignored: the writer is halted or idle)."""
        rest = [batch for batch, _ in self._inflight]
        for _, future in self._inflight:
            with contextlib.suppress(BaseException):
                future.result()
        self._inflight.clear()
        self._halted = False
        return rest

    def completed(self, retry: RetryThroughOutage, keep: int = 0) -> list[Batch]:
        """Batches now durable, oldest first, for their offset commit; at most ``keep`` stay in flight.

        Finished batches are collected without waiting; older ones are waited for until at most
        ``keep`` remain. After an outage error the failed batch and every batch behind it are
        retried in order by ``retry`` (in the calling thread). Fatal errors (dead-letter topic,
        refused quarantine) propagate.
        """
        out: list[Batch] = []
        while self._inflight:
            batch, future = self._inflight[0]
            if len(self._inflight) <= keep and not future.done():
                break
            try:
                future.result()
            except OUTAGE_ERRORS as exc:
                self.retrying = self._settle()
                out.extend(self._retry_in_order(retry, exc))
                break
            self._inflight.popleft()
            out.append(batch)
        return [b for b in out if b.records and b.stored is not None]

    def _retry_in_order(self, retry: RetryThroughOutage, first_error: BaseException) -> list[Batch]:
        done: list[Batch] = []
        try:
            error: BaseException | None = first_error
            while self.retrying:
                batch = self.retrying[0]
                retry(batch, error)
                error = None
                done.append(self.retrying.pop(0))
        finally:
            self.retrying = []
        return done

    def on_revoked(self, revoked: Collection[TopicPartition]) -> list[Batch]:
        """A rebalance revokes ``revoked``: the batches in flight that got stored, in order (commit them now).

        Batches being retried lose the revoked partitions' records. In flight, the first batch
        that failed and every batch behind it are dropped uncommitted: their records are
        re-delivered (the eager rebalance resets every position to the committed offset).
        """
        for batch in self.retrying:
            batch.drop(revoked)
        if self.retrying:
            return []
        stored: list[Batch] = []
        failed = False
        for batch, future in self._inflight:
            try:
                future.result()
            except NotAttempted:
                failed = True
            except OUTAGE_ERRORS as exc:
                log.warning("rebalance: in-flight batch of %d messages failed in the database and is not committed "
                            "(re-delivered): %s", len(batch.records), error_line(exc))
                failed = True
            if not failed and batch.stored is not None:
                stored.append(batch)
        self._settle()
        return stored

    def shutdown(self) -> None:
        """Wait for the writer thread to end."""
        self._pool.shutdown(wait=True)
