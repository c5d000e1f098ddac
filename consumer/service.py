"""The micro-batch ingest loop: Kafka → validate → one DB transaction → DLQ flush → offset commit.

Delivery guarantee (ADR 0015): at-least-once with idempotent writes. For each micro-batch

1. poll up to ``batch_max_messages`` records or ``batch_max_wait_ms`` after the first one,
   closing the batch early once a poll of ``consumer_batch_linger_ms`` returns nothing
   (natural batching: the batch is what accumulated while the previous one was written, so
   batches grow with load and latency stays low when traffic is light);
2. decode every message (contract v1, one ``now`` per batch, the configured ``ts`` window);
3. in the writer thread (:mod:`consumer.pipeline`): ONE database transaction (device check,
   readings upsert, quarantine rows, heartbeat at most once a second; :func:`heliosgrid.ingest.store.store_batch`),
   then the rejects are published to the dead-letter topic and flushed
   (:meth:`consumer.checkpoint.Checkpoint.make_durable`);
4. back in this thread, in batch order, the Kafka offsets are committed
   (:meth:`~consumer.checkpoint.Checkpoint.commit_offsets`).

While the writer thread runs batch N, this thread polls and decodes batch N+1 (ADR 0016, 0101).
A crash anywhere re-delivers the batch; the upsert and the quarantine's unique source position
make the replay change nothing.

Database down (outage-class errors only; a row the database refuses is quarantined, ADR 0100):
the partitions are paused, polling continues (the group session and assignment stay alive), the
batch is retried with backoff (:mod:`consumer.retry`); past ``db_retry_budget_s`` the service
exits :data:`EXIT_DB_UNAVAILABLE` without committing anything. SIGTERM/SIGINT finish the current
batch, commit it and exit 0. On a rebalance the in-flight batch is finished and its offsets
committed while this member still owns them; records of revoked partitions that are not yet
written are dropped (re-delivered to their new owner).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import IllegalStateError, KafkaError

from consumer import fastrecords
from consumer.checkpoint import AfterDbCommit, Checkpoint, DlqFailure
from consumer.commits import CommitBook, CommitCallback, lag_by_partition
from consumer.database import DatabaseSession
from consumer.pipeline import Batch, BatchWriter, DbRejected
from consumer.retry import ConsumerStopped, OutageRetry, RetryBudgetExceeded, RetryPolicy
from consumer.rollup_refresher import RollupRefresher
from consumer.stages import StageClock
from heliosgrid.ingest.batch import ts_window
from heliosgrid.ingest.deadletter import max_record_bytes
from heliosgrid.ingest.metrics import ConsumerMetrics
from heliosgrid.settings import Settings, redact_url

log = logging.getLogger("heliosgrid.consumer")

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_DB_UNAVAILABLE = 3
EXIT_DLQ_UNAVAILABLE = 4
EXIT_DB_REJECTED = 5
"""The database refused even the quarantine row of a message (a schema problem, not an outage)."""

HEARTBEAT_INTERVAL_S = 15.0
"""A heartbeat row is written in batch transactions (at most once a second, consumer.database.BATCH_BEAT_MIN_INTERVAL_S)
and at least this often when idle."""
MAX_POLL_INTERVAL_MS = 30_000
"""Longest gap between polls before the member is considered stuck. kafka-python also sends it
as the group *rebalance timeout*: how long a rebalance waits for members that died (kill -9)
without leaving. The loop polls at least every ``batch_max_wait_ms`` and keeps polling (paused)
while the database is retried, so only one database transaction can approach this bound."""
GC_THRESHOLDS = (50_000, 20, 50)
"""Cyclic-GC thresholds while consuming (CPython defaults: 700/2000, 10, 10). Each batch allocates
tens of thousands of short-lived tuples/bytes and no reference cycles; the default gen-0
threshold made the collector run every few hundred messages and rescan the live batches
(measured: +15-20 % consumer throughput with these values, ADR 0017). Memory is unaffected:
reference counting still frees everything that is not part of a cycle immediately."""

class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: IngestService) -> None:
        self.service = service

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.service._on_revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.service._on_assigned(set(assigned))


class IngestService:
    """One consumer-group member. ``run()`` blocks until stopped; returns the exit status.

    ``after_db_commit`` (tests) is called with the count of database commits between each
    batch's DB commit and its dead letters / offset commit.
    """

    def __init__(self, settings: Settings, database_url: str, *, instance: str | None = None,
                 on_commit: CommitCallback | None = None, after_db_commit: AfterDbCommit | None = None) -> None:
        self.settings = settings
        self.database_url = database_url
        self.instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self.after_db_commit = after_db_commit
        self.metrics = ConsumerMetrics()
        self.book = CommitBook(self.metrics, on_commit)
        """Offset commits, per-batch metrics and lag (:mod:`consumer.commits`)."""
        self.stages = StageClock()
        """Wall time per pipeline stage (:mod:`consumer.stages`)."""
        self.stop_requested = False
        self.assigned_partitions = 0
        """Partitions currently owned (after the last rebalance)."""
        self.first_batch_started_at: float | None = None
        """Wall-clock time (``time.time()``) when the first batch's first records arrived."""
        self.db = DatabaseSession(database_url, self.instance)
        self.outage = OutageRetry(RetryPolicy(settings.db_retry_initial_backoff_s, settings.db_retry_budget_s),
                                  database_url, lambda: self.stop_requested, self._on_db_retry)
        self.rollups = RollupRefresher(database_url, settings.consumer_rollup_refresh_interval_s,
                                       settings.consumer_rollup_refresh_backlog_interval_s)
        self._ts_window = ts_window(settings)
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._writer: BatchWriter | None = None
        self._pending: list[ConsumerRecord] = []
        self._next_positions: dict[TopicPartition, int] = {}
        """Offset after the last record polled, per partition (for :meth:`_backlog`)."""
        self._batch_started = 0.0
        self._last_beat = 0.0

    # ---- lifecycle ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Finish the current batch, commit it, then leave ``run()`` (signal-handler safe)."""
        self.stop_requested = True

    def run(self) -> int:
        """Consume until stopped. Returns 0 on a requested stop, non-zero on a fatal failure."""
        try:
            self.metrics.serve(self.settings.consumer_metrics_port, self.settings.consumer_metrics_host)
        except OSError as exc:
            log.error("cannot serve /metrics on port %d: %s", self.settings.consumer_metrics_port, exc)
            return EXIT_CONFIG
        status = self._connect_db()
        if status is not None:
            return status
        self.rollups.start()
        if not self._connect_kafka():
            self._close(commit_heartbeat=False)
            return EXIT_CONFIG
        status = self._loop()
        self._close(commit_heartbeat=status == EXIT_OK)
        log.info("consumer %s stopped after %d batches (exit %d)", self.instance, self.batches_committed, status)
        return status

    def _connect_db(self) -> int | None:
        """Connect (retrying through an outage); an exit status when that failed."""
        try:
            self.outage.run(self.db.connect, None, lambda: "nothing consumed yet")
        except RetryBudgetExceeded as exc:
            log.error("%s", exc)
            return EXIT_DB_UNAVAILABLE
        except ConsumerStopped:
            return EXIT_OK
        self.db.mark_up()
        return None

    def _connect_kafka(self) -> bool:
        s = self.settings
        servers = s.kafka_bootstrap_servers.split(",")
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=servers, group_id=s.consumer_group, client_id=f"heliosgrid-consumer-{self.instance}",
                enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=s.kafka_session_timeout_ms,
                heartbeat_interval_ms=s.kafka_heartbeat_interval_ms, max_poll_records=s.batch_max_messages,
                max_poll_interval_ms=MAX_POLL_INTERVAL_MS, fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=8 * 1024 * 1024, isolation_level=s.consumer_isolation_level,
            )
            if s.consumer_fast_record_parser:
                fastrecords.install(self._consumer)
            self._producer = KafkaProducer(
                bootstrap_servers=servers, client_id=f"heliosgrid-dlq-{self.instance}", acks="all", linger_ms=5,
                max_request_size=max_record_bytes(s.dlq_max_payload_bytes),
            )
        except KafkaError as exc:
            log.error("cannot reach the Kafka brokers %s: %s", s.kafka_bootstrap_servers, exc)
            return False
        checkpoint = Checkpoint(self._producer, s.topic_dlq, s.dlq_max_payload_bytes, self.after_db_commit)
        self._writer = BatchWriter(self.db, checkpoint, self.metrics, self.rollups, self._beat_details,
                                   depth=s.consumer_pipeline_depth, stages=self.stages)
        self.rollups.writing = self._writer.busy
        self._consumer.subscribe([s.topic_readings], listener=_Rebalance(self))
        log.info(
            "consumer %s: topic %s, group %s, DLQ %s, batch ≤ %d msgs / %d ms, database %s",
            self.instance, s.topic_readings, s.consumer_group, s.topic_dlq, s.batch_max_messages,
            s.batch_max_wait_ms, redact_url(self.database_url),
        )
        return True

    def _loop(self) -> int:
        gc.set_threshold(*GC_THRESHOLDS)
        gc.freeze()  # start-up objects (modules, clients) are never scanned again
        switch_s = sys.getswitchinterval()
        if self.settings.consumer_gil_switch_interval_ms > 0:
            sys.setswitchinterval(self.settings.consumer_gil_switch_interval_ms / 1000)
        try:
            return self._consume()
        finally:
            sys.setswitchinterval(switch_s)

    def _consume(self) -> int:
        try:
            while not self.stop_requested:
                records = self._collect()
                if records:
                    self._process(records)
                else:
                    self._idle()
            self._commit_completed(keep=0)
        except RetryBudgetExceeded as exc:
            log.error("%s", exc)
            return EXIT_DB_UNAVAILABLE
        except ConsumerStopped:
            log.warning("stopped while the database was unavailable: in-flight batch not committed "
                        "(it will be re-delivered)")
        except DlqFailure as exc:
            log.error("%s", exc)
            return EXIT_DLQ_UNAVAILABLE
        except DbRejected as exc:
            log.error("%s", exc)
            return EXIT_DB_REJECTED
        return EXIT_OK

    def _close(self, commit_heartbeat: bool) -> None:
        if self._writer is not None:
            self._writer.shutdown()
        self.rollups.stop()
        self.db.close({"batches": self.batches_committed} if commit_heartbeat else None)
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
        if self._producer is not None:
            self._producer.close(timeout=10)

    # ---- rebalance ---------------------------------------------------------------------------
    def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Called inside ``poll()`` before the partitions move to another member.

        The batch being collected loses the records of revoked partitions (their new owner
        re-reads them from the committed offset). A batch in the writer thread is awaited and,
        if it committed, its offsets are committed now, while this member still owns them; if it
        failed, it is dropped uncommitted (re-delivered). A batch being retried through an
        outage drops the revoked partitions' records.
        """
        self.metrics.rebalances.inc()
        self.assigned_partitions = 0
        before = len(self._pending)
        self._pending = [r for r in self._pending if TopicPartition(r.topic, r.partition) not in revoked]
        if before != len(self._pending):
            log.info("rebalance: dropped %d collected messages of revoked partitions (re-delivered to the new owner)",
                     before - len(self._pending))
        assert self._writer is not None
        for done in self._writer.on_revoked(revoked):
            self._commit(done)
        self._writer.checkpoint.forget(revoked)
        for tp in revoked:
            self._next_positions.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.metrics.lag.remove(tp.topic, str(tp.partition))

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned partitions: %s", sorted(tp.partition for tp in assigned))
        self.assigned_partitions = len(assigned)
        if self.db.is_down and assigned and self._consumer is not None:
            self._consumer.pause(*assigned)

    # ---- batching ----------------------------------------------------------------------------
    def _collect(self) -> list[ConsumerRecord]:
        """Poll until the batch is full, its time is up, the stream is caught up, or idle."""
        assert self._consumer is not None
        s = self.settings
        self._pending = []
        first_at: float | None = None
        while not self.stop_requested and len(self._pending) < s.batch_max_messages:
            if first_at is None:
                timeout_ms = 200
            else:
                remaining_ms = int((first_at + s.batch_max_wait_ms / 1000 - time.monotonic()) * 1000)
                if remaining_ms <= 0:
                    break
                timeout_ms = min(remaining_ms, s.consumer_batch_linger_ms)
            with self.stages.timing("poll_s"):
                polled = self._consumer.poll(timeout_ms=timeout_ms, max_records=s.batch_max_messages - len(self._pending))
            got = 0
            for tp, records in polled.items():
                if records:
                    self._pending.extend(records)
                    got += len(records)
                    self._next_positions[tp] = records[-1].offset + 1
            if first_at is not None and got == 0:
                break  # caught up with the stream: write what has accumulated (natural batching)
            if self._pending and first_at is None:
                first_at = time.monotonic()
                if self.first_batch_started_at is None:
                    self.first_batch_started_at = time.time()
            if not self._pending:
                break  # idle: let the caller beat the heartbeat and check the stop flag
        self._batch_started = first_at or time.monotonic()
        self.rollups.behind = (len(self._pending) >= s.batch_max_messages
                               or self._backlog() >= s.batch_max_messages)
        return self._pending

    def _backlog(self) -> int:
        """Messages already in the log behind what was polled: Σ high watermark − next position, over the
        partitions polled so far.

        A batch can close short during a backlog (a poll returned nothing while the next fetch was
        in flight, or it held the tail of one partition while the others still have a backlog), so
        "the batch came back full" alone flickers; the high watermarks of the last Fetch responses
        say whether more is waiting (ADR 0230). Unknown watermarks count 0.
        """
        assert self._consumer is not None
        backlog = 0
        for tp, position in list(self._next_positions.items()):
            with contextlib.suppress(IllegalStateError):  # revoked by a rebalance inside poll()
                high = self._consumer.highwater(tp)
                if high is not None:
                    backlog += max(int(high) - position, 0)
        return backlog

    def _process(self, records: list[ConsumerRecord]) -> None:
        """Decode a collected batch, commit what the writer finished, then queue this one for the writer.

        The writer holds at most ``depth`` batches: while it writes one, the next waits decoded
        behind it, and this thread polls and decodes the one after (ADR 0101).
        """
        assert self._writer is not None and self._consumer is not None
        with self.stages.timing("decode_s"):
            batch = Batch.decode(records, self._batch_started, self._ts_window, self.db.registry)
        with self.stages.timing("wait_writer_s"):
            self._commit_completed(keep=self._writer.depth - 1)
        # A rebalance while earlier batches were retried: keep only partitions still owned.
        batch.restrict_to(self._consumer.assignment())
        if batch.records:
            self._writer.submit(batch)

    def _commit_completed(self, keep: int) -> None:
        """Commit the offsets of every batch the writer finished, in order, leaving at most ``keep`` in flight."""
        assert self._writer is not None
        for batch in self._writer.completed(self._retry, keep):
            self._commit(batch)

    def _retry(self, batch: Batch, first_error: BaseException | None) -> None:
        """Pause the partitions and retry ``batch`` through the outage until it commits (or give up).

        ``first_error`` is the outage error of its failed attempt; None for a batch the writer did
        not attempt because an earlier one failed (it is tried at once).
        """
        assert self._writer is not None and self._consumer is not None
        writer, consumer = self._writer, self._consumer

        def attempt() -> None:
            batch.restrict_to(consumer.assignment())
            if batch.records:
                writer.attempt(batch)

        self.db.mark_down()
        consumer.pause(*consumer.assignment())
        try:
            self.outage.run(attempt, consumer, lambda: f"no offsets committed for {len(batch.records)} in-flight "
                            "messages", first_error=first_error)
        finally:
            consumer.resume(*consumer.paused())

    def _on_db_retry(self) -> None:
        self.metrics.db_retries.inc()
        self.db.mark_down()

    # ---- after the DB commit -----------------------------------------------------------------
    def _commit(self, batch: Batch) -> None:
        """The batch is durable (rows, quarantine, dead letters): commit its offsets, then metrics (:mod:`consumer.commits`)."""
        assert self._consumer is not None and self._writer is not None
        self.db.mark_up()
        self._last_beat = time.monotonic()
        self.book.commit(self._consumer, self._writer.checkpoint, batch)

    @property
    def batches_committed(self) -> int:
        """Batches whose offsets were committed (or refused after a rebalance) so far."""
        return self.book.batches_committed

    def _beat_details(self, messages: int, rejects: int) -> dict[str, Any]:
        return {"batches": self.batches_committed, "last_batch_messages": messages, "last_batch_rejects": rejects,
                "topic": self.settings.topic_readings, "group": self.settings.consumer_group}

    def lag_by_partition(self) -> dict[TopicPartition, int]:
        """Messages not yet stored, per owned partition (:func:`consumer.commits.lag_by_partition`)."""
        if self._consumer is None or self._writer is None:
            return {}
        return lag_by_partition(self._consumer, self._writer.checkpoint)

    def _commit_positions(self) -> None:
        """Every polled record is stored and committed (idle, nothing in flight): commit the positions that passed
        only records that yield nothing (:meth:`Checkpoint.commit_positions`)."""
        consumer, writer = self._consumer, self._writer
        if consumer is None or writer is None or writer.busy() or self._pending:
            return
        owned = [tp for tp in consumer.assignment() if tp in writer.checkpoint.committed]
        writer.checkpoint.commit_positions(consumer, {tp: int(consumer.position(tp)) for tp in owned})

    def _update_lag(self) -> None:
        if self._consumer is not None and self._writer is not None:
            self.book.update_lag(self._consumer, self._writer.checkpoint)

    def _idle(self) -> None:
        """Nothing polled: finish the batches in flight, commit positions past trailing transaction markers, update
        lag, beat the heartbeat (the rollup refresher runs on its own)."""
        self._commit_completed(keep=0)
        self._commit_positions()
        self.stages.writer_paused()
        self._update_lag()
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self._last_beat = now
            self.db.beat_now(self._beat_details(0, 0))
