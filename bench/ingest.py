"""Ingest benchmark: database write limit vs. the consumer end to end, and ingest latency.

One run, on a fresh database of the local PostgreSQL and a private Tansu broker:

* (a) ``copy_upsert_rows_per_s`` — the baseline: pre-built rows written with the consumer's own
  write path (:func:`heliosgrid.db.writer.write_rows`, binary COPY into staging + upsert), in
  transactions of the consumer's batch size, no Kafka, no decoding.
* (b) ``consumer_msgs_per_s`` — :class:`consumer.service.IngestService` on a pre-filled topic of
  ``messages`` readings (3 partitions), from the first poll to the last offset commit, with
  production settings (DLQ, heartbeat, rollup refresh every 5 s); ``ratio`` = (b)/(a).
* ``consumer_msgs_per_s_2procs`` — the same topic read again by a fresh group of
  ``PROCS`` consumer *processes* (one ``IngestService`` each, same settings) into the emptied
  table, from the first batch of either to the last offset commit of both; its ratio to (a) is
  ``ratio_2procs``. 3 partitions over 2 members split 2 + 1, so the ideal is 1.5× one process.
  The headline ``ratio`` stays the single-process figure.
* context: ``kafka_poll_only_msgs_per_s`` (kafka-python fetching and parsing the same topic,
  nothing else) and ``decode_only_msgs_per_s`` (contract decode of the same payloads) — the two
  CPU-bound stages that bound (b) in one Python process (ADR 0016).
* (c) ``latency_p50_s`` / ``latency_p99_s`` — sensor timestamp → offset commit of its batch, at
  a steady ``latency_rate_msg_s`` (paced producer stamping ``ts`` = send time).

The readings table is truncated between (a) and (b) so both write into the same empty table.
Targets (issue 4): ratio ≥ 0.5, p99 ≤ 1 s. ``profile=True`` adds the top cProfile entries of
the consumer for (b).
"""

from __future__ import annotations

import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import queue
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from heliosgrid.broker import ensure_topics, start_tansu
from heliosgrid.db.connection import LOCAL_SERVER_URL, open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.db.writer import ReadingRow, write_rows
from heliosgrid.ingest.batch import RawMessage, decode_batch
from heliosgrid.ingest.synthetic import fleet_ids, register_devices
from heliosgrid.settings import load_settings

START = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
"""First sensor timestamp of the workload: recent, inside the consumer's accepted window (raw retention)."""
PARTITIONS = 3
PROCS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _payload(device_id: str, site_id: str, ts: datetime, seq: int) -> bytes:
    """Contract-v1 JSON built directly (same bytes as ``encode_reading``, ~20x faster)."""
    poa = 200.0 + (seq % 800)
    dc = poa * 0.1
    return json.dumps(
        {
            "schema_version": 1, "device_id": device_id, "site_id": site_id,
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z", "seq": seq,
            "ghi_w_m2": poa * 0.9, "poa_w_m2": poa, "ambient_temp_c": 20.0, "module_temp_c": 20.0 + poa / 40,
            "dc_power_kw": dc, "ac_power_kw": dc * 0.96, "inverter_status": "ok",
        },
        separators=(",", ":"),
    ).encode()


def _rows(devices: Sequence[tuple[str, str]], per_device: int) -> list[ReadingRow]:
    out: list[ReadingRow] = []
    for step in range(per_device):
        ts = START + timedelta(minutes=step)
        for device_id, site_id in devices:
            poa = 200.0 + (step % 800)
            dc = poa * 0.1
            out.append((device_id, ts, site_id, poa * 0.9, poa, 20.0, 20.0 + poa / 40, dc, dc * 0.96, "ok", step))
    return out


def _messages(devices: Sequence[tuple[str, str]], per_device: int) -> Iterator[tuple[bytes, bytes]]:
    for step in range(per_device):
        ts = START + timedelta(minutes=step)
        for device_id, site_id in devices:
            yield device_id.encode(), _payload(device_id, site_id, ts, step)


def _producer(bootstrap: str, linger_ms: int) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=linger_ms,
                         batch_size=512 * 1024, max_request_size=8 * 1024 * 1024)


class _Collector:
    """``on_commit`` hook: counts committed readings and keeps sensor→commit latencies."""

    def __init__(self, keep_latency: bool) -> None:
        self.count = 0
        self.first_commit_at: float | None = None
        self.last_commit_at = 0.0
        self.keep_latency = keep_latency
        self.latencies_s: list[float] = []

    def __call__(self, readings: Sequence[ReadingRow], committed_at: float) -> None:
        self.count += len(readings)
        self.first_commit_at = self.first_commit_at or committed_at
        self.last_commit_at = committed_at
        if self.keep_latency:
            self.latencies_s.extend(committed_at - r[1].timestamp() for r in readings)  # r[1] = ts


def _consumer_process(db_url: str, bootstrap: str, topic: str, group: str, stored: Any, stop: Any,
                      out: Any) -> None:
    """Child process of the multi-process figure: one IngestService until ``stop`` is set.

    ``stored`` (shared counter) counts committed readings; ``out`` receives
    ``(first_batch_started_at, last_commit_at)`` (``time.time()`` of this process) at the end.
    """
    from consumer.service import IngestService

    settings = load_settings(kafka_bootstrap_servers=bootstrap, topic_readings=topic, topic_dlq=topic + ".dlq",
                             consumer_group=group, consumer_metrics_port=0)
    last = [0.0]

    def on_commit(rows: Sequence[ReadingRow], committed_at: float) -> None:
        with stored.get_lock():
            stored.value += len(rows)
        last[0] = committed_at

    service = IngestService(settings, db_url, on_commit=on_commit)
    thread = threading.Thread(target=service.run, name="ingest-service", daemon=True)
    thread.start()
    while not stop.wait(0.05) and thread.is_alive():
        pass
    service.request_stop()
    thread.join(timeout=60)
    out.put((service.first_batch_started_at, last[0]))


def _multi_process_rate(db_url: str, bootstrap: str, topic: str, messages: int, procs: int) -> float:
    """``procs`` consumer processes in one fresh group drain ``topic`` (pre-filled): msg/s end to end."""
    ctx = mp.get_context("spawn")
    stored = ctx.Value("q", 0)
    stop = ctx.Event()
    out = ctx.Queue()
    group = f"bench-{procs}p-{uuid.uuid4().hex[:8]}"
    children = [ctx.Process(target=_consumer_process, args=(db_url, bootstrap, topic, group, stored, stop, out),
                            name=f"bench-consumer-{i}") for i in range(procs)]
    for c in children:
        c.start()
    try:
        _wait(lambda: stored.value >= messages or not all(c.is_alive() for c in children), 900,
              f"{procs} consumer processes to drain the topic")
    finally:
        stop.set()
        stamps: list[tuple[float | None, float]] = []
        for _ in children:
            try:
                stamps.append(out.get(timeout=90))
            except queue.Empty:  # a child died: its figures are missing, reported below
                break
        for c in children:
            c.join(timeout=30)
            if c.is_alive():
                c.terminate()
    if stored.value < messages:
        raise RuntimeError(f"{procs} consumer processes stored {stored.value} of {messages} readings")
    if len(stamps) < procs:
        raise RuntimeError(f"only {len(stamps)} of {procs} consumer processes reported their timings")
    first = min(f for f, _ in stamps if f is not None)
    last = max(t for _, t in stamps)
    return messages / (last - first)


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds consumed so far by process ``pid`` (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14, 15 of stat)


def _db_backend_pids(db_url: str, dbname: str) -> list[int]:
    """PostgreSQL backend pids connected to ``dbname`` (other than the asking one)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                            (dbname,)).fetchall()
    return [int(r[0]) for r in rows]


def _start_service(db_url: str, bootstrap: str, topic: str, collector: _Collector,
                   profile: cProfile.Profile | None = None) -> tuple[Any, threading.Thread]:
    from consumer.service import IngestService

    settings = load_settings(
        kafka_bootstrap_servers=bootstrap, topic_readings=topic, topic_dlq=topic + ".dlq",
        consumer_group=f"bench-{uuid.uuid4().hex[:8]}", consumer_metrics_port=0,
    )
    service = IngestService(settings, db_url, on_commit=collector)

    def target() -> None:
        if profile is not None:
            profile.enable()
        try:
            service.run()
        finally:
            if profile is not None:
                profile.disable()

    thread = threading.Thread(target=target, name="ingest-service", daemon=True)
    thread.start()
    return service, thread


def _wait(cond: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"ingest bench: timed out waiting for {what}")
        time.sleep(0.05)


def run(messages: int = 500_000, latency_seconds: float = 20.0, latency_rate_msg_s: int = 2000,
        profile: bool = False) -> dict[str, Any]:
    """Run (a), (b) and (c); returns the figures (see the module docstring)."""
    settings = load_settings()
    n_devices = 1000
    per_device = max(1, messages // n_devices)
    messages = per_device * n_devices
    dbname = f"helios_bench_{uuid.uuid4().hex[:8]}"
    server = os.environ.get("HELIOS_TEST_PG_URL", LOCAL_SERVER_URL)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    db_url = server.rsplit("/", 1)[0] + "/" + dbname
    port = _free_port()
    bootstrap = f"127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally block below
    broker = start_tansu(port, log=log)
    result: dict[str, Any] = {}
    try:
        with open_connection(db_url, autocommit=True) as conn:
            backend = migrate(conn, requested_backend="postgres").backend
            devices = fleet_ids("bench", 50, n_devices // 50)
            with conn.transaction():
                register_devices(conn, devices)

            # (a) the write limit: pre-built rows, consumer batch size, one transaction per batch
            rows = _rows(devices, per_device)
            batch = settings.batch_max_messages
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            copy_backend = int(row[0]) if row else 0
            cpu0 = (time.process_time(), _cpu_s(copy_backend))
            t0 = time.perf_counter()
            for i in range(0, len(rows), batch):
                with conn.transaction():
                    write_rows(conn, rows[i:i + batch])
            copy_s = time.perf_counter() - t0
            copy_cpu = {"client_process": time.process_time() - cpu0[0],
                        "postgres_backend": _cpu_s(copy_backend) - cpu0[1]}
            del rows
            conn.execute("TRUNCATE readings, rollup_invalidations")

        # (b) end to end on a pre-filled topic
        topic = f"bench.readings.{uuid.uuid4().hex[:6]}"
        ensure_topics(bootstrap, {topic: PARTITIONS, topic + ".dlq": 1})
        producer = _producer(bootstrap, linger_ms=50)
        t0 = time.perf_counter()
        for key, value in _messages(devices, per_device):
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=300)
        prefill_s = time.perf_counter() - t0
        producer.close(timeout=10)
        collector = _Collector(keep_latency=False)
        prof = cProfile.Profile() if profile else None
        cpu_before = {"consumer": time.process_time(), "broker": _cpu_s(broker.pid)}
        service, thread = _start_service(db_url, bootstrap, topic, collector, prof)
        _wait(lambda: collector.first_commit_at is not None or not thread.is_alive(), 300, "the first commit")
        pg_pids = _db_backend_pids(db_url, dbname)  # the consumer's connection (opened before its first batch)
        _wait(lambda: collector.count >= messages or not thread.is_alive(), 900, "the consumer to drain the topic")
        cpu_used = {
            "consumer_process": time.process_time() - cpu_before["consumer"],
            "broker": _cpu_s(broker.pid) - cpu_before["broker"],
            "postgres_backend": sum(_cpu_s(p) for p in pg_pids),
        }
        service.request_stop()
        thread.join(timeout=60)
        if service.first_batch_started_at is None or collector.count < messages:
            raise RuntimeError(f"consumer stored {collector.count} of {messages} readings")
        consumer_s = collector.last_commit_at - service.first_batch_started_at
        with psycopg.connect(db_url) as conn:
            stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        if stored is None or stored[0] != messages:
            raise RuntimeError(f"readings has {stored} rows, expected {messages}")

        # The same topic again, by PROCS consumer processes into the emptied table.
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("TRUNCATE readings, rollup_invalidations")
        procs_rate = _multi_process_rate(db_url, bootstrap, topic, messages, PROCS)
        with psycopg.connect(db_url) as conn:
            stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        if stored is None or stored[0] != messages:
            raise RuntimeError(f"readings has {stored} rows after the {PROCS}-process run, expected {messages}")

        # Where the consumer's time goes: kafka-python fetch+parse alone, contract decode alone.
        poll_rate = _poll_only_rate(bootstrap, topic, messages)
        sample = [m for _, m in zip(range(50_000), _messages(devices, per_device), strict=False)]
        raws = [RawMessage(topic, 0, i, k, v) for i, (k, v) in enumerate(sample)]
        t0 = time.perf_counter()
        decode_batch(raws)
        decode_rate = len(raws) / (time.perf_counter() - t0)

        # (c) latency at a steady rate, sensor ts = send time
        lat_topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
        ensure_topics(bootstrap, {lat_topic: PARTITIONS, lat_topic + ".dlq": 1})
        lat = _Collector(keep_latency=True)
        lat_service, lat_thread = _start_service(db_url, bootstrap, lat_topic, lat)
        _wait(lambda: lat_service.assigned_partitions > 0, 60, "the latency consumer to join")
        sent = _paced_produce(bootstrap, lat_topic, devices, latency_rate_msg_s, latency_seconds)
        _wait(lambda: lat.count >= sent or not lat_thread.is_alive(), 60, "latency readings to be committed")
        lat_service.request_stop()
        lat_thread.join(timeout=60)
        warm = lat.latencies_s[latency_rate_msg_s:]  # skip the first second (fetch warm-up)
        quantiles = statistics.quantiles(warm, n=100)
        copy_rate = messages / copy_s
        consumer_rate = messages / consumer_s
        result = {
            "copy_upsert_rows_per_s": round(copy_rate),
            "consumer_msgs_per_s": round(consumer_rate),
            "ratio": round(consumer_rate / copy_rate, 3),
            "ratio_note": "single consumer process; see ratio_2procs for two processes on the 3-partition topic",
            "consumer_msgs_per_s_2procs": round(procs_rate),
            "ratio_2procs": round(procs_rate / copy_rate, 3),
            "latency_p50_s": round(quantiles[49], 3),
            "latency_p99_s": round(quantiles[98], 3),
            "latency_max_s": round(max(warm), 3),
            "targets": {"ratio_min": 0.5, "latency_p99_max_s": 1.0},
            "targets_met": consumer_rate / copy_rate >= 0.5 and quantiles[98] <= 1.0,
            "rows": messages,
            "devices": n_devices,
            "partitions": PARTITIONS,
            "batch_max_messages": settings.batch_max_messages,
            "batch_max_wait_ms": settings.batch_max_wait_ms,
            "backend": backend,
            "write_method": "copy",
            "prefill_msgs_per_s": round(messages / prefill_s),
            "cpu_us_per_row_copy_upsert": {k: round(v / messages * 1e6, 1) for k, v in copy_cpu.items()},
            "cpu_us_per_msg_single_consumer": {k: round(v / messages * 1e6, 1) for k, v in cpu_used.items()},
            "cpu_cores_busy_single_consumer": {k: round(v / consumer_s, 2) for k, v in cpu_used.items()},
            "kafka_poll_only_msgs_per_s": round(poll_rate),
            "decode_only_msgs_per_s": round(decode_rate),
            "latency_rate_msg_s": latency_rate_msg_s,
            "latency_messages": sent,
            "cpu_count": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        if prof is not None:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            result["profile_top_tottime"] = out.getvalue().splitlines()[-40:]
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
        log.close()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return result


def _poll_only_rate(bootstrap: str, topic: str, messages: int) -> float:
    """kafka-python alone: fetch and parse the whole topic (no decode, no database), msg/s."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             max_poll_records=5000, fetch_max_bytes=64 * 1024 * 1024,
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        consumer.seek_to_beginning()
        count = 0
        t0 = time.perf_counter()
        deadline = time.monotonic() + 600
        while count < messages and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                count += len(recs)
        return count / (time.perf_counter() - t0)
    finally:
        consumer.close()


def _paced_produce(bootstrap: str, topic: str, devices: Sequence[tuple[str, str]], rate_msg_s: int,
                   seconds: float) -> int:
    """Send ``rate_msg_s`` messages a second for ``seconds``, stamping ``ts`` with the send time."""
    producer = _producer(bootstrap, linger_ms=2)
    tick_s = 0.01
    per_tick = max(1, round(rate_msg_s * tick_s))
    seq = 10_000_000  # distinct from (b)'s keys
    sent = 0
    start = time.monotonic()
    next_tick = start
    i = 0
    while time.monotonic() - start < seconds:
        for _ in range(per_tick):
            device_id, site_id = devices[i % len(devices)]
            i += 1
            if i % len(devices) == 0:
                seq += 1
            producer.send(topic, key=device_id.encode(),
                          value=_payload(device_id, site_id, datetime.now(UTC), seq))
            sent += 1
        next_tick += tick_s
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    producer.flush(timeout=60)
    producer.close()
    return sent
