"""The micro-batch ingest loop: Kafka → validate → one DB transaction → DLQ flush → offset commit.

Delivery guarantee (ADR 0015): at-least-once with idempotent writes. For each micro-batch

1. poll up to ``batch_max_messages`` records or ``batch_max_wait_ms`` after the first one,
   closing the batch early once a poll of ``consumer_batch_linger_ms`` returns nothing
   (natural batching: the batch is what accumulated while the previous one was written, so
   batches grow with load and latency stays low when traffic is light);
2. decode every message (contract v1, one ``now`` per batch), then — inside ONE database
   transaction — check devices against the registry, upsert the good readings, insert the
   rejects into ``quarantine`` and beat the heartbeat; commit;
3. publish the rejects to the dead-letter topic (original bytes, reason headers) and flush;
4. only then commit the Kafka offsets (highest offset + 1 per partition of the batch).

The transaction of batch N runs in a writer thread while the main thread polls and decodes
batch N+1 (two-stage pipeline, ADR 0016); offsets are still committed in order, by the main
thread, each only after its own batch committed. A crash anywhere re-delivers the batch:
readings are upserted on ``(device_id, ts)`` and quarantine rows are unique on
``(topic, partition, offset)``, so the replay changes nothing.

Database down: the assigned partitions are paused (polling continues so the group session and
the assignment stay alive), the transaction is retried with exponential backoff (capped at
10 s, ±20 % jitter); past ``db_retry_budget_s`` the service exits with status
:data:`EXIT_DB_UNAVAILABLE` without committing anything. SIGTERM/SIGINT finish the current batch,
commit it and exit 0. On a rebalance the records of revoked partitions are dropped from the
in-flight batch (they are re-delivered to their new owner) so no offset of another owner is
ever committed.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from heliosgrid.db.connection import DatabaseUnavailable, open_connection
from heliosgrid.db.writer import (
    HeartbeatStatus,
    ReadingRow,
    WriteResult,
    database_backend,
    refresh_rollups,
    write_heartbeat,
    write_quarantine,
    write_reading_rows,
)
from heliosgrid.ingest.batch import (
    BatchOutcome,
    DecodedBatch,
    DeviceRegistry,
    check_devices,
    decode_batch,
)
from heliosgrid.ingest.metrics import ConsumerMetrics
from heliosgrid.settings import Settings, redact_url

log = logging.getLogger("heliosgrid.consumer")

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_DB_UNAVAILABLE = 3
EXIT_DLQ_UNAVAILABLE = 4

HEARTBEAT_COMPONENT = "consumer"
HEARTBEAT_INTERVAL_S = 15.0
"""A heartbeat row is written after every batch and at least this often when idle."""
MAX_BACKOFF_S = 10.0
DEGRADED_FOR_S = 60.0
"""After a database outage the heartbeat says 'degraded' for this long."""
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
CRASH_HOOK_ENV = "HELIOS_TEST_CRASH_AFTER_DB_COMMIT"
"""Test-only: ``os._exit(137)`` right after the N-th DB commit, before the Kafka commit."""

CommitCallback = Callable[[Sequence[ReadingRow], float], None]
"""Called after each offset commit with the batch's stored reading rows
(:data:`heliosgrid.db.writer.READING_COLUMNS` order) and the commit time (``time.time()``)."""


class ConsumerStopped(Exception):
    """Internal: a stop was requested while the database was unavailable."""


class RetryBudgetExceeded(Exception):
    """Internal: the database stayed unavailable past ``db_retry_budget_s``."""


@dataclass
class _Batch:
    """One micro-batch on its way: records, decoded messages, then the DB outcome."""

    records: list[ConsumerRecord]
    started: float
    """``time.monotonic()`` when its first records arrived."""
    decoded: DecodedBatch | None = None
    outcome: BatchOutcome | None = None
    result: WriteResult | None = None


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: IngestService) -> None:
        self.service = service

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.service._on_revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.service._on_assigned(set(assigned))


class IngestService:
    """One consumer-group member. ``run()`` blocks until stopped; returns the exit status."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        instance: str | None = None,
        on_commit: CommitCallback | None = None,
    ) -> None:
        self.settings = settings
        self.database_url = database_url
        self.instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self.on_commit = on_commit
        self.metrics = ConsumerMetrics()
        self.registry = DeviceRegistry()
        self.stop_requested = False
        self.batches_committed = 0
        self.assigned_partitions = 0
        """Partitions currently owned (after the last rebalance)."""
        self.first_batch_started_at: float | None = None
        """Wall-clock time (``time.time()``) when the first batch's first records arrived."""
        self._conn: psycopg.Connection[Any] | None = None
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._pending: list[ConsumerRecord] = []
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-db-writer")
        self._inflight: tuple[_Batch, Future[None]] | None = None
        self._retrying: _Batch | None = None
        self._rebalance_count = 0
        self._committed: dict[TopicPartition, int] = {}
        """Next offset to consume per owned partition, as last committed by this member."""
        self._batch_started = 0.0
        self._revoked = False
        self._db_down = False
        self._degraded_until = 0.0
        self._last_beat = 0.0
        self._last_refresh = 0.0
        self._db_commits = 0
        hook = os.environ.get(CRASH_HOOK_ENV, "").strip()
        self._crash_after = int(hook) if hook.isdigit() else 0

    # ---- lifecycle ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Finish the current batch, commit it, then leave ``run()`` (signal-handler safe)."""
        self.stop_requested = True

    def run(self) -> int:
        """Consume until stopped. Returns 0 on a requested stop, non-zero on a fatal failure."""
        s = self.settings
        try:
            self.metrics.serve(s.consumer_metrics_port, s.consumer_metrics_host)
        except OSError as exc:
            log.error("cannot serve /metrics on port %d: %s", s.consumer_metrics_port, exc)
            return EXIT_CONFIG
        try:
            self._connect_db_with_retry(time.monotonic())
        except RetryBudgetExceeded as exc:
            log.error("%s", exc)
            return EXIT_DB_UNAVAILABLE
        except ConsumerStopped:
            return EXIT_OK
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=s.kafka_bootstrap_servers.split(","),
                group_id=s.consumer_group,
                client_id=f"heliosgrid-consumer-{self.instance}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=s.kafka_session_timeout_ms,
                heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
                max_poll_records=s.batch_max_messages,
                max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=8 * 1024 * 1024,
            )
            self._producer = KafkaProducer(
                bootstrap_servers=s.kafka_bootstrap_servers.split(","),
                client_id=f"heliosgrid-dlq-{self.instance}",
                acks="all",
                linger_ms=5,
            )
        except KafkaError as exc:
            log.error("cannot reach the Kafka brokers %s: %s", s.kafka_bootstrap_servers, exc)
            self._close(commit_heartbeat=False)
            return EXIT_CONFIG
        self._consumer.subscribe([s.topic_readings], listener=_Rebalance(self))
        gc.set_threshold(*GC_THRESHOLDS)
        gc.freeze()  # start-up objects (modules, clients) are never scanned again
        log.info(
            "consumer %s: topic %s, group %s, DLQ %s, batch ≤ %d msgs / %d ms, database %s",
            self.instance, s.topic_readings, s.consumer_group, s.topic_dlq, s.batch_max_messages,
            s.batch_max_wait_ms, redact_url(self.database_url),
        )
        status = EXIT_OK
        try:
            while not self.stop_requested:
                records = self._collect()
                if records:
                    self._process(records)
                else:
                    self._idle_housekeeping()
            self._finish_inflight()
        except RetryBudgetExceeded as exc:
            log.error("%s", exc)
            status = EXIT_DB_UNAVAILABLE
        except ConsumerStopped:
            log.warning("stopped while the database was unavailable: in-flight batch not committed "
                        "(it will be re-delivered)")
        except _DlqFailure as exc:
            log.error("%s", exc)
            status = EXIT_DLQ_UNAVAILABLE
        self._close(commit_heartbeat=status == EXIT_OK)
        log.info("consumer %s stopped after %d batches (exit %d)", self.instance, self.batches_committed, status)
        return status

    def _close(self, commit_heartbeat: bool) -> None:
        self._writer.shutdown(wait=True)
        if commit_heartbeat and self._conn is not None and not self._conn.closed:
            try:
                with self._conn.transaction():
                    write_heartbeat(self._conn, HEARTBEAT_COMPONENT, self.instance, "stopping",
                                    {"batches": self.batches_committed})
            except psycopg.Error:
                pass
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
        if self._producer is not None:
            self._producer.close(timeout=10)
        if self._conn is not None and not self._conn.closed:
            self._conn.close()

    # ---- rebalance ---------------------------------------------------------------------------
    def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Called inside ``poll()`` before the partitions move to another member.

        The batch being collected loses the records of revoked partitions (their new owner
        re-reads them from the committed offset). A batch whose transaction is running in the
        writer thread is awaited and, if it committed, its offsets are committed now — while
        this member still owns them; if it failed, it is dropped uncommitted (re-delivered).
        """
        self.metrics.rebalances.inc()
        self._rebalance_count += 1
        self.assigned_partitions = 0
        before = len(self._pending)
        self._pending = [r for r in self._pending if TopicPartition(r.topic, r.partition) not in revoked]
        if self._retrying is not None:
            self._retrying.records = [r for r in self._retrying.records
                                      if TopicPartition(r.topic, r.partition) not in revoked]
            self._revoked = True
        elif self._inflight is not None:
            batch, future = self._inflight
            self._inflight = None
            try:
                future.result()
            except (DatabaseUnavailable, psycopg.Error) as exc:
                log.warning("rebalance: in-flight batch of %d messages failed in the database and is not "
                            "committed (re-delivered): %s", len(batch.records), redact_url(str(exc)).strip())
            else:
                self._after_db_commit(batch)
        if before != len(self._pending):
            log.info("rebalance: dropped %d collected messages of revoked partitions (re-delivered to the new owner)",
                     before - len(self._pending))
        for tp in revoked:
            self._committed.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.metrics.lag.remove(tp.topic, str(tp.partition))

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned partitions: %s", sorted(tp.partition for tp in assigned))
        self.assigned_partitions = len(assigned)
        if self._db_down and assigned and self._consumer is not None:
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
            polled = self._consumer.poll(timeout_ms=timeout_ms, max_records=s.batch_max_messages - len(self._pending))
            got = 0
            for records in polled.values():
                self._pending.extend(records)
                got += len(records)
            if first_at is not None and got == 0:
                break  # caught up with the stream: write what has accumulated (natural batching)
            if self._pending and first_at is None:
                first_at = time.monotonic()
                if self.first_batch_started_at is None:
                    self.first_batch_started_at = time.time()
            if not self._pending:
                break  # idle: let the caller beat the heartbeat and check the stop flag
        self._batch_started = first_at or time.monotonic()
        return self._pending

    def _process(self, records: list[ConsumerRecord]) -> None:
        """Decode a collected batch, wait for the previous one, then hand this one to the writer.

        Two-stage pipeline: while the writer thread runs batch N's transaction, this thread
        polls and decodes batch N+1. Offsets are still committed strictly in order, each only
        after its own batch committed in the database.
        """
        batch = _Batch(records=list(records), started=self._batch_started)
        batch.decoded = decode_batch(batch.records, datetime.now(UTC))
        rebalances = self._rebalance_count
        self._finish_inflight()
        if self._rebalance_count != rebalances and self._consumer is not None:
            # A rebalance happened while the previous batch was retried: keep only records of
            # partitions this member still owns (the others belong to their new owner now).
            owned = self._consumer.assignment()
            batch.records = [r for r in batch.records if TopicPartition(r.topic, r.partition) in owned]
            batch.decoded = self._only_owned(batch)
        if not batch.records:
            return
        self._inflight = (batch, self._writer.submit(self._db_attempt, batch))

    def _finish_inflight(self) -> None:
        """Wait for the batch in the writer thread; retry it here if the database failed; commit."""
        if self._inflight is None:
            return
        batch, future = self._inflight
        self._inflight = None
        try:
            future.result()
        except (DatabaseUnavailable, psycopg.Error) as exc:
            self._retry_batch(batch, exc)
            if not batch.records:
                return
        self._after_db_commit(batch)

    # ---- database ----------------------------------------------------------------------------
    def _connect_db_with_retry(self, started: float) -> psycopg.Connection[Any]:
        backoff = self.settings.db_retry_initial_backoff_s
        while True:
            try:
                conn = open_connection(self.database_url, autocommit=True, connect_timeout_s=5)
                database_backend(conn)
                self.registry.load(conn)
                self._conn = conn
                return conn
            except (DatabaseUnavailable, psycopg.Error) as exc:
                backoff = self._backoff_or_fail(started, backoff, exc)

    def _backoff_or_fail(self, started: float, backoff: float, exc: BaseException, pending: int = 0) -> float:
        """Sleep ``backoff`` (keeping the group session alive) or raise when the budget is spent."""
        elapsed = time.monotonic() - started
        budget = self.settings.db_retry_budget_s
        detail = redact_url(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if elapsed + backoff > budget:
            raise RetryBudgetExceeded(
                f"database unavailable for {elapsed:.0f} s (retry budget {budget:g} s, "
                f"HELIOS_DB_RETRY_BUDGET_S) at {redact_url(self.database_url)}: {detail}; "
                f"no offsets committed for {pending} in-flight messages; exiting"
            )
        self.metrics.db_retries.inc()
        log.warning("database error (retry in %.1f s, %.0f/%g s of budget used): %s", backoff, elapsed, budget, detail)
        self._sleep_polling(backoff * random.uniform(0.8, 1.2))
        if self.stop_requested:
            raise ConsumerStopped()
        return min(backoff * 2, MAX_BACKOFF_S)

    def _sleep_polling(self, seconds: float) -> None:
        """Wait while polling paused partitions, so the consumer stays in its group."""
        end = time.monotonic() + seconds
        consumer = self._consumer
        while not self.stop_requested:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if consumer is None:
                time.sleep(min(remaining, 0.2))
                continue
            polled = consumer.poll(timeout_ms=int(min(remaining, 0.2) * 1000))
            # Paused partitions return nothing; a partition assigned by a rebalance in between may
            # not be paused yet. Rewind it so that nothing fetched here is skipped.
            for tp, recs in polled.items():
                if recs:
                    consumer.seek(tp, min(r.offset for r in recs))
                    consumer.pause(tp)

    def _db_attempt(self, batch: _Batch) -> None:
        """One attempt at the batch's transaction (runs in the writer thread, or in the retry loop).

        Device check, readings upsert, quarantine rows and heartbeat commit together. On error
        the connection is dropped and the exception propagates (nothing was committed).
        """
        assert batch.decoded is not None
        try:
            conn = self._conn if self._conn is not None and not self._conn.closed else None
            if conn is None:
                conn = open_connection(self.database_url, autocommit=True, connect_timeout_s=5)
                self._conn = conn
            t0 = time.monotonic()
            with conn.transaction():
                sites = self.registry.sites_for(conn, batch.decoded.device_ids)
                batch.outcome = check_devices(batch.decoded, sites)
                batch.result = write_reading_rows(conn, batch.outcome.rows)
                write_quarantine(conn, batch.outcome.rejects)
                write_heartbeat(conn, HEARTBEAT_COMPONENT, self.instance, self._status(),
                                self._beat_details(len(batch.records), len(batch.outcome.rejects)))
            self.metrics.write_latency.observe(time.monotonic() - t0)
        except (DatabaseUnavailable, psycopg.Error):
            if self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg.Error):
                    self._conn.close()
            self._conn = None
            raise
        self._maybe_refresh_rollups()

    def _retry_batch(self, batch: _Batch, first_error: BaseException) -> None:
        """The database failed: pause, back off and retry the batch until it commits or the budget is spent."""
        assert self._consumer is not None
        started = time.monotonic()
        backoff = self.settings.db_retry_initial_backoff_s
        self._retrying = batch
        self._revoked = False
        self._db_down = True
        self._consumer.pause(*self._consumer.assignment())
        exc = first_error
        try:
            while True:
                backoff = self._backoff_or_fail(started, backoff, exc, len(batch.records))
                if self._revoked:
                    batch.decoded = self._only_owned(batch)
                    self._revoked = False
                if not batch.records:
                    return
                try:
                    self._db_attempt(batch)
                    return
                except (DatabaseUnavailable, psycopg.Error) as again:
                    exc = again
        finally:
            self._retrying = None
            self._db_down = False
            self._degraded_until = time.monotonic() + DEGRADED_FOR_S
            self._consumer.resume(*self._consumer.paused())

    def _after_db_commit(self, batch: _Batch) -> None:
        """The batch is durable: (test hook), DLQ publish + flush, offset commit, metrics."""
        assert batch.outcome is not None and batch.result is not None
        self._last_beat = time.monotonic()
        self._db_commits += 1
        if self._crash_after and self._db_commits >= self._crash_after:
            log.warning("%s reached: exiting with 137 between DB commit and offset commit", CRASH_HOOK_ENV)
            os._exit(137)
        self._publish_dlq(batch)
        self._commit_offsets(batch)
        self._record(batch, time.monotonic() - batch.started)

    def _only_owned(self, batch: _Batch) -> DecodedBatch:
        """The batch's decoded messages restricted to the records it still holds (after a rebalance)."""
        assert batch.decoded is not None
        owned = {(r.topic, r.partition) for r in batch.records}
        kept = [(row, m) for row, m in zip(batch.decoded.rows, batch.decoded.sources, strict=True)
                if (m.topic, m.partition) in owned]
        return DecodedBatch(
            rows=[row for row, _ in kept],
            sources=[m for _, m in kept],
            rejects=[q for q in batch.decoded.rejects if (q.source_topic, q.source_partition) in owned],
        )

    def _status(self) -> HeartbeatStatus:
        return "degraded" if time.monotonic() < self._degraded_until else "ok"

    def _beat_details(self, messages: int, rejects: int) -> dict[str, Any]:
        return {"batches": self.batches_committed, "last_batch_messages": messages, "last_batch_rejects": rejects,
                "topic": self.settings.topic_readings, "group": self.settings.consumer_group}

    # ---- after the DB commit -----------------------------------------------------------------
    def _publish_dlq(self, batch: _Batch) -> None:
        assert batch.outcome is not None
        rejects = batch.outcome.rejects
        if not rejects:
            return
        assert self._producer is not None
        by_pos = {(r.topic, r.partition, r.offset): r for r in batch.records}
        try:
            for q in rejects:
                rec = by_pos.get((q.source_topic, q.source_partition, q.source_offset))
                headers = [
                    ("reason_code", q.reason_code.encode()),
                    ("reason_detail", q.reason_detail.encode()),
                    ("source_topic", q.source_topic.encode()),
                    ("source_partition", str(q.source_partition).encode()),
                    ("source_offset", str(q.source_offset).encode()),
                ]
                self._producer.send(
                    self.settings.topic_dlq,
                    key=rec.key if rec is not None else None,
                    value=rec.value if rec is not None else q.raw_payload,
                    headers=headers,
                )
            self._producer.flush(timeout=30)
        except KafkaError as exc:
            raise _DlqFailure(
                f"cannot publish {len(rejects)} rejects to DLQ topic {self.settings.topic_dlq}: {exc}; "
                "offsets not committed (the batch will be re-delivered)"
            ) from None

    def _commit_offsets(self, batch: _Batch) -> None:
        assert self._consumer is not None
        nexts: dict[tuple[str, int], int] = {}  # plain tuples: no TopicPartition per record
        for r in batch.records:
            key = (r.topic, r.partition)
            if r.offset >= nexts.get(key, -1):
                nexts[key] = r.offset + 1
        offsets = {TopicPartition(t, p): off for (t, p), off in nexts.items()}
        try:
            self._consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()})
        except CommitFailedError as exc:
            # The group rebalanced during the DB write: the batch is stored, its offsets will be
            # re-delivered to the new owner and the upsert makes that harmless.
            log.warning("offset commit refused after a rebalance (batch will be re-delivered): %s", exc)
            return
        self._committed.update(offsets)
        self.metrics.last_commit.set(time.time())

    def _record(self, batch: _Batch, latency_s: float) -> None:
        assert batch.outcome is not None and batch.result is not None
        readings, rejects, upserted = batch.outcome.rows, batch.outcome.rejects, batch.result.rows_upserted
        m = self.metrics
        n = len(batch.records)
        self.batches_committed += 1
        m.batch_size.observe(n)
        m.batch_latency.observe(latency_s)
        m.messages.inc(n)
        m.rows_written.inc(upserted)
        m.rows_per_s.set(len(readings) / latency_s if latency_s > 0 else 0.0)
        for q in rejects:
            m.rejects.labels(q.reason_code).inc()
        self._update_lag()
        if self.on_commit is not None:
            self.on_commit(readings, time.time())
        log.debug("batch: %d messages, %d readings, %d rejects, %.3f s", n, len(readings), len(rejects), latency_s)

    def lag_by_partition(self) -> dict[TopicPartition, int]:
        """Messages not yet stored, per owned partition: high watermark − offset committed by this member.

        The high watermark is the one kafka-python reads from every Fetch response
        (``KafkaConsumer.highwater``), not ``end_offsets`` (ListOffsets), which Tansu answers with
        the number of record *batches* and so under-reports (ADR 0027). Partitions with no
        commit by this member yet, or no fetch response yet, are left out (unknown, not 0).
        """
        out: dict[TopicPartition, int] = {}
        if self._consumer is None:
            return out
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            done = self._committed.get(tp)
            if high is not None and done is not None:
                out[tp] = max(int(high) - done, 0)
        return out

    def _update_lag(self) -> None:
        for tp, lag in self.lag_by_partition().items():
            self.metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)

    def _maybe_refresh_rollups(self) -> None:
        now = time.monotonic()
        if self._conn is None or now - self._last_refresh < self.settings.consumer_rollup_refresh_interval_s:
            return
        self._last_refresh = now
        try:
            if database_backend(self._conn) != "postgres":
                return
            refresh_rollups(self._conn)  # autocommit connection: runs in its own transaction
        except psycopg.Error as exc:
            # The invalidation log keeps the dirty buckets: the next refresh catches up.
            log.warning("rollup refresh failed (will retry): %s", redact_url(str(exc)).strip())

    def _idle_housekeeping(self) -> None:
        self._finish_inflight()
        self._update_lag()
        now = time.monotonic()
        if now - self._last_beat < HEARTBEAT_INTERVAL_S:
            return
        self._last_beat = now
        try:
            if self._conn is None or self._conn.closed:
                self._conn = open_connection(self.database_url, autocommit=True, connect_timeout_s=5)
            with self._conn.transaction():
                write_heartbeat(self._conn, HEARTBEAT_COMPONENT, self.instance, self._status(),
                                self._beat_details(0, 0))
        except (DatabaseUnavailable, psycopg.Error) as exc:
            self._conn = None
            log.warning("heartbeat failed (database unavailable?): %s", redact_url(str(exc)).strip())


class _DlqFailure(Exception):
    """Internal: rejects could not be published to the dead-letter topic."""
