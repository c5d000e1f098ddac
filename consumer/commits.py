"""After a batch is durable: its Kafka offset commit, then the batch's metrics, lag and ``on_commit`` hook.

:class:`CommitBook` runs in the polling thread (kafka-python's consumer is not thread-safe), in
batch order, for batches the writer thread made durable (rows, quarantine rows and dead letters:
:meth:`consumer.checkpoint.Checkpoint.make_durable`). Split out of :mod:`consumer.service`; the
order is unchanged (ADR 0015, 0101): offsets are committed only after their batch and every
earlier one are durable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer, TopicPartition

from consumer.checkpoint import Checkpoint
from consumer.pipeline import Batch
from heliosgrid.db.writer import ReadingRow
from heliosgrid.ingest.metrics import ConsumerMetrics

log = logging.getLogger("heliosgrid.consumer")

CommitCallback = Callable[[Sequence[ReadingRow], float], None]
"""Called after each offset commit with the batch's stored reading rows
(:data:`heliosgrid.db.writer.READING_COLUMNS` order) and the commit time (``time.time()``)."""


class CommitBook:
    """Offset commits and per-batch bookkeeping of one consumer (see the module docstring)."""

    def __init__(self, metrics: ConsumerMetrics, on_commit: CommitCallback | None = None) -> None:
        self.metrics = metrics
        self.on_commit = on_commit
        self.batches_committed = 0

    def commit(self, consumer: KafkaConsumer, checkpoint: Checkpoint, batch: Batch) -> None:
        """``batch`` is durable (rows, quarantine, dead letters): commit its offsets, then record it."""
        assert batch.stored is not None
        if checkpoint.commit_offsets(consumer, batch.records):
            self.metrics.last_commit.set(time.time())
        self.record(consumer, checkpoint, batch, time.monotonic() - batch.started)

    def record(self, consumer: KafkaConsumer, checkpoint: Checkpoint, batch: Batch, latency_s: float) -> None:
        """Metrics, lag and the ``on_commit`` hook of a committed batch (``latency_s``: first poll → commit)."""
        assert batch.stored is not None
        outcome, result = batch.stored.outcome, batch.stored.result
        m = self.metrics
        n = len(batch.records)
        self.batches_committed += 1
        m.batch_size.observe(n)
        m.batch_latency.observe(latency_s)
        m.messages.inc(n)
        m.rows_written.inc(result.rows_upserted)
        m.rows_per_s.set(len(outcome.rows) / latency_s if latency_s > 0 else 0.0)
        for q in outcome.rejects:
            m.rejects.labels(q.reason_code).inc()
        self.update_lag(consumer, checkpoint)
        if self.on_commit is not None:
            self.on_commit(outcome.rows, time.time())
        log.debug("batch: %d messages, %d readings, %d rejects, %.3f s", n, len(outcome.rows), len(outcome.rejects),
                  latency_s)

    def update_lag(self, consumer: KafkaConsumer, checkpoint: Checkpoint) -> None:
        """Set the lag gauge of every owned partition whose lag is known."""
        for tp, lag in lag_by_partition(consumer, checkpoint).items():
            self.metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)


def lag_by_partition(consumer: KafkaConsumer, checkpoint: Checkpoint) -> dict[TopicPartition, int]:
    """Messages not yet stored, per owned partition: high watermark − offset committed by this member.

    The high watermark is the one kafka-python reads from every Fetch response
    (``KafkaConsumer.highwater``), not ``end_offsets`` (ListOffsets), which Tansu answers with
    the number of record *batches* and so under-reports (ADR 0027). Partitions with no
    commit by this member yet, or no fetch response yet, are left out (unknown, not 0).
    """
    out: dict[TopicPartition, int] = {}
    committed = checkpoint.committed
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        done = committed.get(tp)
        if high is not None and done is not None:
            out[tp] = max(int(high) - done, 0)
    return out
