"""The producer loop: simulated or replayed readings → Kafka, paced, checkpointed, stoppable.

One loop serves every mode; what differs is the source and the pace:

* ``speed = inf`` sends as fast as the broker takes it (backfill, replay);
* ``speed = 1`` sends each reading when the wall clock reaches its timestamp (real time);
* ``speed = S`` runs a simulated clock S times faster than the wall clock from the first
  reading (accelerated).

Whatever the speed, a reading is never sent before its own timestamp (the consumer rejects
readings from the future), so a catch-up naturally turns into real time.

Delivery: kafka-python ``KafkaProducer`` with ``acks='all'``, idempotence, gzip compression,
``linger_ms`` batching; key = device_id (one device stays on one partition, in order). After
each flush a checkpoint records the timestamp of the oldest reading that may not be durable
yet; a restart resumes there, so a crash re-sends (harmless: the consumer upserts on
(device_id, ts)) and never leaves a gap. ``seq`` is minutes since the epoch of ``ts`` (ADR
0010), so a restart can never reuse a sequence number.

SIGTERM/SIGINT: stop taking new readings, release held-back (bad-traffic) messages, flush,
write the checkpoint and a 'stopping' heartbeat, exit 0.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

import pandas as pd
import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError

from heliosgrid.broker import ensure_topics
from heliosgrid.db.connection import DatabaseUnavailable, open_connection
from heliosgrid.physics import SiteSpec
from heliosgrid.settings import redact_url
from heliosgrid.simulation import (
    RANDOM_BLOCK,
    FaultSpec,
    fault_ground_truth,
    grid_step,
    iter_fleet,
    random_faults,
    random_faults_for_block,
)
from producer.badtraffic import BadTrafficInjector
from producer.checkpoint import (
    EXIT_DELIVERY_FAILED,
    EXIT_OK,
    RunStats,
    database_identity,
    read_checkpoint,
    write_checkpoint,
)
from producer.delivery import Heartbeat, build_kafka_producer
from producer.messages import OutMessage, frame_to_messages
from producer.metrics import ProducerMetrics
from producer.runconfig import ProducerError, RunConfig

log = logging.getLogger("heliosgrid.producer")

MAX_REALTIME_CATCH_UP = pd.Timedelta(days=7)
"""A real-time run resumes from an older checkpoint (filling the outage) if it is at most this old."""
CHECKPOINT_EVERY_S = 5.0
"""Paced runs flush and checkpoint at least this often (seconds)."""


def _bad_traffic_devices(fleet: Sequence[SiteSpec], replay_frame: pd.DataFrame | None) -> list[tuple[str, str]]:
    """(device_id, site_id) pairs the injected bad traffic borrows its valid parts from: the fleet's inverters,
    else its devices, else the replayed readings' devices (a CSV replay has no fleet: its device is registered
    beforehand)."""
    pairs = [(d.device_id, d.site_id) for s in fleet for d in s.inverters] or [
        (d.device_id, d.site_id) for s in fleet for d in s.devices]
    if not pairs and replay_frame is not None and len(replay_frame):
        pairs = sorted(map(tuple, replay_frame[["device_id", "site_id"]].drop_duplicates().to_numpy().tolist()))
    return pairs


class ProducerService:
    """Runs one producer. Construct, then :meth:`run` (blocks; returns :class:`RunStats`)."""

    def __init__(self, config: RunConfig, fleet: Sequence[SiteSpec]) -> None:
        self.config = config
        self.fleet = list(fleet)
        self.stats = RunStats()
        self.instance = f"{socket.gethostname()}-{os.getpid()}"
        self._stop = threading.Event()
        self._producer: KafkaProducer | None = None
        self._first_error: str | None = None
        self._written_blocks: set[pd.Timestamp] = set()
        self.metrics: ProducerMetrics | None = ProducerMetrics() if config.metrics_port else None
        self.injector = BadTrafficInjector(
            rate=config.bad_rate, seed=config.seed, devices=_bad_traffic_devices(self.fleet, config.replay_frame)
        ) if config.bad_rate > 0 else None

    # ------------------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Ask the loop to stop after the current message (signal-safe)."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT request a clean stop (flush, checkpoint, exit 0)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: flushing and stopping", signal.Signals(signum).name)
            self.stats.stopped_by_signal = True
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # ------------------------------------------------------------------------------ set-up
    def _db_setup(self) -> None:
        """Register the fleet (idempotent) so the consumer knows every device."""
        url = self.config.database_url
        if url is None:
            return
        from heliosgrid.fleet import sync_fleet

        try:
            with open_connection(url, autocommit=True) as conn:
                if self.fleet:
                    result = sync_fleet(conn, self.fleet)
                    log.info("fleet registered: %d site(s), %d device(s)", result.sites, result.devices)
        except (DatabaseUnavailable, psycopg.Error) as exc:
            log.warning("fleet not registered (database unavailable or not migrated): %s",
                        redact_url(str(exc)).strip())

    def _write_ground_truth(self, faults: list[FaultSpec], start: pd.Timestamp | None, end: pd.Timestamp | None) -> None:
        if not faults:
            return
        truth = fault_ground_truth(self.fleet, faults, freq=self.config.freq, seed=self.config.seed, start=start, end=end)
        if self.config.labels_dir is not None:
            from producer.groundtruth import write_labels

            path = write_labels(self.config.labels_dir, truth)
            log.info("%d fault label(s) written to %s", len(truth), path)
        if self.config.database_url is not None:
            from producer.groundtruth import write_fault_events

            try:
                with open_connection(self.config.database_url, autocommit=True) as conn:
                    write_fault_events(conn, truth)
            except (DatabaseUnavailable, psycopg.Error) as exc:
                log.warning("fault_events not written (labels file kept): %s", redact_url(str(exc)).strip())
        self.stats.fault_events += len(truth)

    # ------------------------------------------------------------------------------ source
    def _frames(self, start: pd.Timestamp) -> Iterator[pd.DataFrame]:
        cfg = self.config
        if cfg.mode == "replay":
            assert cfg.replay_frame is not None
            frame = cfg.replay_frame
            frame = frame[frame["ts"] >= start]
            if cfg.end is not None:
                frame = frame[frame["ts"] < cfg.end]
            days = frame["ts"].dt.floor("1D")
            for _day, chunk in frame.groupby(days, sort=True):
                yield chunk
            return
        chunk = "1D" if cfg.end is not None and cfg.speed == math.inf else "1h"
        if cfg.faults == "none":
            yield from iter_fleet(self.fleet, start, cfg.end, freq=cfg.freq, seed=cfg.seed, faults=None, chunk=chunk,
                                  noise=cfg.noise)
        elif cfg.end is not None:
            # the schedule belongs to the whole run (original start), not to a resumed part of it
            faults = random_faults(self.fleet, cfg.start, cfg.end, cfg.seed,
                                   rate_per_device_month=cfg.fault_rate_per_device_month, freq=cfg.freq)
            self._write_ground_truth(faults, cfg.start, cfg.end)
            yield from iter_fleet(self.fleet, start, cfg.end, freq=cfg.freq, seed=cfg.seed, faults=faults, chunk=chunk,
                                  noise=cfg.noise)
        else:
            for frame in iter_fleet(self.fleet, start, None, freq=cfg.freq, seed=cfg.seed, faults="random",
                                    chunk=chunk, fault_rate_per_device_month=cfg.fault_rate_per_device_month,
                                    noise=cfg.noise):
                if not frame.empty:
                    self._blocks_seen(frame["ts"].iloc[0], frame["ts"].iloc[-1])
                yield frame

    def _prefetched(self, start: pd.Timestamp) -> Iterator[tuple[pd.DataFrame, list[OutMessage]]]:
        """:meth:`_frames` with their messages, generated one or two chunks ahead in a thread
        (simulation and serialisation overlap with Kafka sends). Worker errors are re-raised."""
        ready: queue.Queue[tuple[pd.DataFrame, list[OutMessage]] | BaseException | None] = queue.Queue(maxsize=2)
        halt = threading.Event()

        def put(item: tuple[pd.DataFrame, list[OutMessage]] | BaseException | None) -> bool:
            while not (halt.is_set() or self._stop.is_set()):
                try:
                    ready.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            try:
                for frame in self._frames(start):
                    if not put((frame, list(frame_to_messages(frame)))):
                        return
                put(None)
            except BaseException as exc:
                put(exc)

        worker = threading.Thread(target=work, name="producer-source", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    item = ready.get(timeout=0.2)
                except queue.Empty:
                    if self._stop.is_set() or (not worker.is_alive() and ready.empty()):
                        return
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            halt.set()
            worker.join(timeout=0.5)

    def _blocks_seen(self, first: pd.Timestamp, last: pd.Timestamp) -> None:
        """Open-ended random faults: write each 7-day block's ground truth when entering it."""
        epoch = pd.Timestamp(0, tz="UTC")
        block = epoch + ((first - epoch) // RANDOM_BLOCK) * RANDOM_BLOCK
        while block <= last:
            if block not in self._written_blocks:
                self._written_blocks.add(block)
                faults = random_faults_for_block(self.fleet, block, self.config.seed, self.config.freq,
                                                 self.config.fault_rate_per_device_month)
                self._write_ground_truth(faults, None, None)
            block += RANDOM_BLOCK

    # ------------------------------------------------------------------------------ sending
    def _on_error(self, exc: BaseException) -> None:
        self.stats.delivery_errors += 1
        if self.metrics is not None:
            self.metrics.delivery_errors.inc()
        if self._first_error is None:
            self._first_error = f"{type(exc).__name__}: {exc}"

    def _send(self, key: bytes, value: bytes) -> None:
        assert self._producer is not None
        future = self._producer.send(self.config.topic, key=key, value=value)
        future.add_errback(self._on_error)

    def _emit(self, msg: OutMessage) -> None:
        if self.injector is None:
            self._send(msg.key, msg.value)
        else:
            before = dict(self.injector.counts) if self.metrics is not None else None
            for key, value in self.injector.on_good(msg.key, msg.value, msg.ts_ns):
                self._send(key, value)
            if self.metrics is not None and before is not None and self.injector.counts != before:
                for kind, count in self.injector.counts.items():
                    if count != before.get(kind, 0):
                        self.metrics.messages.labels(kind=kind).inc(count - before.get(kind, 0))
        self.stats.good_sent += 1
        if self.metrics is not None:
            self.metrics.good(msg.ts_ns)

    def _flush_and_checkpoint(self, run_key: str, next_ts: pd.Timestamp | None) -> bool:
        """Flush; if every send so far succeeded, checkpoint ``next_ts`` (held-back aware)."""
        assert self._producer is not None
        try:
            self._producer.flush(timeout=60)
        except KafkaError as exc:
            self._on_error(exc)
        if self.stats.delivery_errors:
            return False
        if self.config.checkpoint is not None and next_ts is not None:
            held = self.injector.oldest_held_ts_ns if self.injector is not None else None
            safe = min(next_ts, pd.Timestamp(held, tz="UTC")) if held is not None else next_ts
            write_checkpoint(self.config.checkpoint, run_key, safe, self.stats)
        return True

    def _wait_until(self, ts_ns: int, sim0_ns: int, wall0: float) -> None:
        """Block until the reading at ``ts_ns`` may be sent (pace and never-in-the-future rule)."""
        speed = self.config.speed
        while not self._stop.is_set():
            now_ns = time.time_ns()
            # max speed, and live real time (speed 1), obey only the never-in-the-future rule, so a
            # real-time run catches up an outage at full speed; other speeds run a simulated clock
            allowed = now_ns
            if speed != math.inf and not (speed == 1.0 and self.config.mode == "realtime"):
                allowed = min(now_ns, sim0_ns + int((time.monotonic() - wall0) * 1e9 * speed))
            if ts_ns <= allowed:
                return
            if self._producer is not None:
                self._producer.flush(timeout=60)  # nothing to do meanwhile: make what we sent visible
            wait_s = (ts_ns - allowed) / 1e9 / (speed if speed != math.inf else 1.0)
            self._stop.wait(min(max(wait_s, 0.01), 0.5))

    def _resume_start(self, run_key: str) -> pd.Timestamp | None:
        """Where this run starts: the configured start, or the checkpoint; None = already complete."""
        cfg = self.config
        start = cfg.start
        resumed = read_checkpoint(cfg.checkpoint, run_key)
        catch_up = (
            cfg.mode == "realtime" and resumed is not None and resumed < start
            and pd.Timestamp.now(tz="UTC") - resumed <= MAX_REALTIME_CATCH_UP
        )
        if resumed is not None and (resumed > start or catch_up) and (cfg.end is None or resumed < cfg.end):
            log.info("resuming from checkpoint %s (run %s)", resumed.isoformat(), run_key)
            return resumed
        if resumed is not None and cfg.end is not None and resumed >= cfg.end:
            log.info("checkpoint says run %s is complete; nothing to send", run_key)
            return None
        return start

    def _open(self) -> Heartbeat | None:
        """Register the fleet, create topics and the Kafka producer, serve metrics, start beating."""
        cfg = self.config
        self._db_setup()
        try:
            ensure_topics(cfg.bootstrap_servers, {cfg.topic: cfg.partitions})
            self._producer = build_kafka_producer(cfg.bootstrap_servers, cfg.linger_ms)
        except KafkaError as exc:
            raise ProducerError(f"Kafka broker {cfg.bootstrap_servers} unavailable: {exc}") from None
        if self.metrics is not None:
            self.metrics.serve(cfg.metrics_port)
            log.info("metrics on http://127.0.0.1:%d/metrics", cfg.metrics_port)
        if cfg.database_url is None:
            return None
        heartbeat = Heartbeat(cfg.database_url, self.instance, cfg.heartbeat_interval_s, self._details)
        heartbeat.beat("ok")
        heartbeat.start()
        return heartbeat

    def _send_all(self, run_key: str, start: pd.Timestamp, progress: Any) -> pd.Timestamp | None:
        """Send every message from ``start`` (paced); returns the resume point after the last one."""
        cfg = self.config
        sim0_ns, wall0 = int(start.value), time.monotonic()
        last_checkpoint = time.monotonic()
        next_ts: pd.Timestamp | None = start
        for frame, messages in self._prefetched(start):
            if self._stop.is_set():
                break
            for msg in messages:
                if self._stop.is_set() or (cfg.max_messages is not None and self.stats.good_sent >= cfg.max_messages):
                    self._stop.set()
                    return msg.ts
                if cfg.speed != math.inf or msg.ts_ns > time.time_ns():
                    self._wait_until(msg.ts_ns, sim0_ns, wall0)
                    if self._stop.is_set():
                        return msg.ts
                self._emit(msg)
                if self.stats.first_ts is None:
                    self.stats.first_ts = msg.ts
                self.stats.last_ts_ns = msg.ts_ns
                if progress is not None:
                    progress.update(1)
                if cfg.speed != math.inf and time.monotonic() - last_checkpoint > CHECKPOINT_EVERY_S:
                    self._flush_and_checkpoint(run_key, pd.Timestamp(msg.ts_ns, tz="UTC"))
                    last_checkpoint = time.monotonic()
            # the whole chunk went out: everything before the next chunk's start is sent
            if not frame.empty:
                next_ts = frame["ts"].iloc[-1] + grid_step(cfg.freq)
                if cfg.speed == math.inf:
                    self._flush_and_checkpoint(run_key, next_ts)
        return next_ts

    def run(self) -> RunStats:
        """Produce until the source ends, ``max_messages`` is reached, or a stop is requested."""
        cfg = self.config
        grid_step(cfg.freq)
        run_key = cfg.run_key(self.fleet, database_identity(cfg.database_url) if cfg.database_url else None)
        start = self._resume_start(run_key)
        if start is None:
            return self.stats
        heartbeat = self._open()
        progress = self._progress_bar(start)
        try:
            next_ts = self._send_all(run_key, start, progress)
            if self.injector is not None:
                for key, value in self.injector.drain():
                    self._send(key, value)
                self.stats.bad_by_kind = dict(self.injector.counts)
            if not self._flush_and_checkpoint(run_key, next_ts):
                self.stats.exit_code = EXIT_DELIVERY_FAILED
                log.error("%d message(s) not delivered (first error: %s); checkpoint not advanced",
                          self.stats.delivery_errors, self._first_error)
        finally:
            self._close(progress, heartbeat)
        log.info("sent %d reading(s) (%s .. %s), %d extra (bad/duplicate), %d fault event(s)",
                 self.stats.good_sent, self.stats.first_ts, self.stats.last_ts,
                 sum(self.stats.bad_by_kind.values()), self.stats.fault_events)
        return self.stats

    def _close(self, progress: Any, heartbeat: Heartbeat | None) -> None:
        if progress is not None:
            progress.close()
        if self._producer is not None:
            try:
                self._producer.close(timeout=30)
            except KafkaError as exc:  # pragma: no cover - broker vanished at close
                log.warning("producer close: %s", exc)
        if heartbeat is not None:
            heartbeat.stop("stopping" if self.stats.exit_code == EXIT_OK else "failed")

    def _details(self) -> dict[str, Any]:
        return {
            "mode": self.config.mode,
            "topic": self.config.topic,
            "good_sent": self.stats.good_sent,
            "last_ts": last.isoformat() if (last := self.stats.last_ts) is not None else None,
            "bad_by_kind": dict(self.injector.counts) if self.injector is not None else {},
            "delivery_errors": self.stats.delivery_errors,
        }

    def _progress_bar(self, start: pd.Timestamp) -> Any:
        cfg = self.config
        if not cfg.progress or cfg.speed != math.inf:
            return None
        from tqdm import tqdm

        total: int | None = None
        if cfg.mode == "replay" and cfg.replay_frame is not None:
            total = int((cfg.replay_frame["ts"] >= start).sum())
        elif cfg.end is not None:
            steps = max(0, int((cfg.end - start) / grid_step(cfg.freq)))
            total = steps * sum(len(s.devices) for s in self.fleet)
        if cfg.max_messages is not None:
            total = min(total or cfg.max_messages, cfg.max_messages)
        return tqdm(total=total, unit="msg", desc=f"producer {cfg.mode}", mininterval=1.0)
