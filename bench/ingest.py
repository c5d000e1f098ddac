"""Ingest benchmark on each storage backend: database write limit vs. the consumer end to end, and latency.

``heliosgrid bench ingest [--backend timescaledb|postgres] [--messages N] --json``. One run, one
private Tansu broker, one pre-filled topic of ``messages`` readings (3 partitions); then, for
each backend (default both), on a fresh database of that backend:

* ``copy_upsert_rows_per_s`` — the baseline: pre-built rows written with the consumer's own
  write path (:func:`heliosgrid.db.writer.write_batch`: one transaction, binary COPY into staging
  + upsert; the capability check picks COPY on every real server), in transactions of the
  consumer's batch size, no Kafka, no decoding; ``copy_upsert_preencoded_rows_per_s`` the same
  with each batch's COPY stream built before the clock starts (the consumer's polling thread
  builds it ahead of the writer, ADR 0280), and ``ratio_vs_preencoded`` against it;
* ``consumer_msgs_per_s`` — :class:`consumer.service.IngestService` (one process, production
  settings: DLQ, heartbeat, rollup refresh) draining the topic with a fresh group, from its first
  poll to its last offset commit; ``ratio`` = consumer / baseline of the same backend, same run;
* ``latency_p50_s`` / ``latency_p99_s`` — sensor ``ts`` → offset commit of its batch at a steady
  ``latency_rate_msg_s`` (2,000 msg/s; a paced producer stamps ``ts`` with the send time);
* ``stage_wall_s_single_consumer`` — wall seconds per pipeline stage of that drain, from its first
  offset commit to its last (:mod:`consumer.stages`: poll, decode, waiting for the writer,
  writing, the writer thread's own CPU ``write_cpu_s``, writer idle); ``writer_s_per_row_vs_copy``
  = the writer's seconds per message ÷ the baseline's seconds per row (1.0: the writer is as fast as the bare COPY upsert);
* context: CPU µs per message of the consumer process, the PostgreSQL backends (the writer's and,
  on plain PostgreSQL, the rollup refresher's, also alone as ``postgres_backend_rollup_refresh``)
  and the broker; on plain PostgreSQL ``rollups_current_after_last_commit_s``: how long after the
  last offset commit the consumer's rollup refresher had the rollups covering every reading
  (ADR 0220, 0230: during a backlog the refresh runs at the backlog interval and a due refresh
  waits for the writer's batches, so the drain's last refresh may fall after the measured
  window; ``postgres_backend_through_rollups_current`` counts it).

Backends: ``postgres`` is the local PostgreSQL (``HELIOS_TEST_PG_URL``); ``timescaledb`` is a
private native TimescaleDB 2.25 cluster started with
:func:`heliosgrid.db.timescale_server.start_native_timescale` (a backend that cannot start is
reported with its error). Shared figures: ``kafka_poll_only_msgs_per_s`` and
``decode_only_msgs_per_s`` (the two CPU-bound stages in the consumer process, ADR 0016).
Targets: ratio ≥ 0.8 (issue 17; ≥ 0.5 issue 13), p99 ≤ 1 s at 2,000 msg/s.
"""

from __future__ import annotations

import contextlib
import io
import os
import pstats
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from bench._ingest_support import (
    Collector,
    cpu_s,
    db_backend_pids,
    free_port,
    make_messages,
    make_producer,
    make_rows,
    paced_produce,
    poll_only_rate,
    start_service,
    wait,
)
from heliosgrid.broker import ensure_topics, start_tansu
from heliosgrid.db.connection import LOCAL_SERVER_URL, open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.db.timescale_server import start_native_timescale
from heliosgrid.db.writer import CopyRows, ReadingRow, choose_write_method, database_backend, encode_copy_rows, write_batch
from heliosgrid.ingest.batch import RawMessage, decode_batch
from heliosgrid.ingest.synthetic import fleet_ids, register_devices
from heliosgrid.settings import load_settings

PARTITIONS = 3
N_DEVICES = 1000
BACKENDS = ("timescaledb", "postgres")
TARGET_RATIO = 0.8
TARGET_P99_S = 1.0


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str]:
    """A fresh, migrated database of ``backend``; yields its URL, drops it (and its server) afterwards."""
    native = None
    if backend == "timescaledb":
        native = start_native_timescale(free_port())
        server = native.url
    else:
        server = os.environ.get("HELIOS_TEST_PG_URL", LOCAL_SERVER_URL)
    dbname = f"helios_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        url = server.rsplit("/", 1)[0] + "/" + dbname
        with open_connection(url, autocommit=True) as conn:
            got = migrate(conn, requested_backend=backend).backend
        if got != backend:
            raise RuntimeError(f"asked for backend {backend}, the migration runner chose {got}")
        yield url
    finally:
        with contextlib.suppress(psycopg.Error), psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if native is not None:
            native.stop()


def _copy_baseline(db_url: str, rows: Sequence[ReadingRow], batch: int, encoded: bool = False) -> dict[str, Any]:
    """(a) Pre-built rows through the consumer's write path, one transaction per batch; then empty the table.

    ``encoded``: each batch's COPY stream is built before the clock starts (the consumer's polling
    thread builds it ahead of its writer, ADR 0280): the database-only limit, a stricter baseline.
    """
    parts = [rows[i:i + batch] for i in range(0, len(rows), batch)]
    batches: list[Sequence[ReadingRow] | CopyRows] = [encode_copy_rows(b) for b in parts] if encoded else list(parts)
    with open_connection(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        backend_pid = int(row[0]) if row else 0
        method = choose_write_method(conn)
        cpu0 = (time.process_time(), cpu_s(backend_pid))
        t0 = time.perf_counter()
        for part in batches:
            write_batch(conn, part)
        elapsed = time.perf_counter() - t0
        cpu = {"client_process": time.process_time() - cpu0[0], "postgres_backend": cpu_s(backend_pid) - cpu0[1]}
        conn.execute("TRUNCATE readings")
        with contextlib.suppress(psycopg.Error):
            conn.execute("TRUNCATE rollup_invalidations")
    return {"rate": len(rows) / elapsed, "cpu": cpu, "method": method}


def _consume(db_url: str, bootstrap: str, topic: str, messages: int, broker_pid: int,
             profile: bool) -> dict[str, Any]:
    """(b) One consumer process drains the pre-filled topic: msg/s from first poll to last commit."""
    import cProfile

    collector = Collector(keep_latency=False)
    prof = cProfile.Profile() if profile else None
    cpu_before = {"consumer_process": time.process_time(), "broker": cpu_s(broker_pid)}
    service, thread = start_service(db_url, bootstrap, topic, collector, prof)
    wait(lambda: collector.first_commit_at is not None or not thread.is_alive(), 300, "the first commit")
    dbname = db_url.rsplit("/", 1)[1]
    pg_pids = db_backend_pids(db_url, dbname)
    pg_before = sum(cpu_s(p) for p in pg_pids)
    refresh_before = sum(cpu_s(p) for p, name in pg_pids.items() if name == "heliosgrid-rollup-refresh")
    stages_before, count_before = service.stages.as_dict(), collector.count
    refreshes_before = service.rollups.refreshes
    wait(lambda: collector.count >= messages or not thread.is_alive(), 900, "the consumer to drain the topic")
    stages = {k: round(v - stages_before[k], 3) for k, v in service.stages.as_dict().items()}
    stages["messages"] = collector.count - count_before
    stages["rollup_refreshes"] = service.rollups.refreshes - refreshes_before
    cpu = {"consumer_process": time.process_time() - cpu_before["consumer_process"],
           "broker": cpu_s(broker_pid) - cpu_before["broker"],
           "postgres_backend": sum(cpu_s(p) for p in pg_pids) - pg_before}
    refresh_pids = [p for p, name in pg_pids.items() if name == "heliosgrid-rollup-refresh"]
    if refresh_pids:  # plain PostgreSQL: the refresher's share of the backend CPU, during the drain
        cpu["postgres_backend_rollup_refresh"] = sum(cpu_s(p) for p in refresh_pids) - refresh_before
    rollups_after_s = _rollups_current_after(db_url, collector)
    if rollups_after_s is not None:  # the refresh work the drain left behind, counted too
        cpu["postgres_backend_through_rollups_current"] = sum(cpu_s(p) for p in pg_pids) - pg_before
    service.request_stop()
    thread.join(timeout=60)
    if service.first_batch_started_at is None or collector.count < messages:
        raise RuntimeError(f"consumer stored {collector.count} of {messages} readings")
    elapsed = collector.last_commit_at - service.first_batch_started_at
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
    if stored is None or stored[0] != messages:
        raise RuntimeError(f"readings has {stored} rows, expected {messages}")
    out: dict[str, Any] = {"rate": messages / elapsed, "elapsed_s": elapsed, "cpu": cpu,
                           "rollups_current_after_s": rollups_after_s, "stages": stages}
    if prof is not None:
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
        out["profile"] = text.getvalue().splitlines()[-40:]
    return out


def _rollups_current_after(db_url: str, collector: Collector) -> float | None:
    """Plain PostgreSQL: seconds from the last offset commit until the consumer's rollup refresher
    has emptied the invalidation log (the rollups cover every reading); None on TimescaleDB."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        if database_backend(conn) != "postgres":
            return None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone()
            if row is not None and row[0] == 0:
                return max(time.time() - collector.last_commit_at, 0.0)
            time.sleep(0.1)
    raise RuntimeError("the consumer did not bring the rollups up to date within 600 s")


def _latency(db_url: str, bootstrap: str, devices: Sequence[tuple[str, str]], rate_msg_s: int,
             seconds: float) -> dict[str, Any]:
    """(c) Sensor ts → offset commit at a steady rate on a fresh topic."""
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, {topic: PARTITIONS, topic + ".dlq": 1})
    lat = Collector(keep_latency=True)
    service, thread = start_service(db_url, bootstrap, topic, lat)
    wait(lambda: service.assigned_partitions > 0, 60, "the latency consumer to join")
    sent = paced_produce(bootstrap, topic, devices, rate_msg_s, seconds)
    wait(lambda: lat.count >= sent or not thread.is_alive(), 60, "latency readings to be committed")
    service.request_stop()
    thread.join(timeout=60)
    warm = lat.latencies_s[rate_msg_s:]  # skip the first second (fetch warm-up)
    q = statistics.quantiles(warm, n=100)
    return {"p50": q[49], "p99": q[98], "max": max(warm), "sent": sent}


def _backend_figures(backend: str, bootstrap: str, topic: str, devices: Sequence[tuple[str, str]],
                     per_device: int, broker_pid: int, opts: dict[str, Any]) -> dict[str, Any]:
    """(a), (b), (c) on a fresh database of ``backend``."""
    messages = per_device * len(devices)
    batch = load_settings().batch_max_messages
    with _database(backend) as db_url:
        with psycopg.connect(db_url) as conn:
            register_devices(conn, devices)
        rows = make_rows(devices, per_device)
        copy = _copy_baseline(db_url, rows, batch)
        copy_encoded = _copy_baseline(db_url, rows, batch, encoded=True)
        consumer = _consume(db_url, bootstrap, topic, messages, broker_pid, opts["profile"])
        lat = _latency(db_url, bootstrap, devices, opts["latency_rate_msg_s"], opts["latency_seconds"])
    ratio = consumer["rate"] / copy["rate"]
    out: dict[str, Any] = {
        "copy_upsert_rows_per_s": round(copy["rate"]),
        "consumer_msgs_per_s": round(consumer["rate"]),
        "ratio": round(ratio, 3),
        "copy_upsert_preencoded_rows_per_s": round(copy_encoded["rate"]),
        "ratio_vs_preencoded": round(consumer["rate"] / copy_encoded["rate"], 3),
        "latency_p50_s": round(lat["p50"], 3),
        "latency_p99_s": round(lat["p99"], 3),
        "latency_max_s": round(lat["max"], 3),
        "targets_met": ratio >= TARGET_RATIO and lat["p99"] <= TARGET_P99_S,
        "write_method": copy["method"],
        "cpu_us_per_row_copy_upsert": {k: round(v / messages * 1e6, 1) for k, v in copy["cpu"].items()},
        "cpu_us_per_msg_single_consumer": {k: round(v / messages * 1e6, 1) for k, v in consumer["cpu"].items()},
        "cpu_cores_busy_single_consumer": {k: round(v / consumer["elapsed_s"], 2)
                                           for k, v in consumer["cpu"].items()},
        "latency_messages": lat["sent"],
        "stage_wall_s_single_consumer": consumer["stages"],
        "writer_s_per_row_vs_copy": round(consumer["stages"]["write_s"] / max(consumer["stages"]["messages"], 1)
                                            * copy["rate"], 3),
    }
    if consumer["rollups_current_after_s"] is not None:
        out["rollups_current_after_last_commit_s"] = round(consumer["rollups_current_after_s"], 2)
    if "profile" in consumer:
        out["profile_top_tottime"] = consumer["profile"]
    return out


def _prefill(bootstrap: str, topic: str, devices: Sequence[tuple[str, str]], per_device: int) -> float:
    """Produce the workload once (shared by every backend); returns msg/s."""
    ensure_topics(bootstrap, {topic: PARTITIONS, topic + ".dlq": 1})
    producer = make_producer(bootstrap, linger_ms=50)
    t0 = time.perf_counter()
    for key, value in make_messages(devices, per_device):
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=300)
    elapsed = time.perf_counter() - t0
    producer.close(timeout=10)
    return per_device * len(devices) / elapsed


def _decode_rate(devices: Sequence[tuple[str, str]], per_device: int) -> float:
    sample = [m for _, m in zip(range(50_000), make_messages(devices, per_device), strict=False)]
    raws = [RawMessage("t", 0, i, k, v) for i, (k, v) in enumerate(sample)]
    t0 = time.perf_counter()
    decode_batch(raws)
    return len(raws) / (time.perf_counter() - t0)


def run(messages: int = 500_000, backend: str | None = None, latency_seconds: float = 20.0,
        latency_rate_msg_s: int = 2000, profile: bool = False) -> dict[str, Any]:
    """Run the benchmark on ``backend`` (``timescaledb``, ``postgres``; default both); see the module docstring."""
    chosen = BACKENDS if backend in (None, "both") else (backend,)
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown:
        raise ValueError(f"unknown backend {unknown[0]!r}; choose timescaledb, postgres or both")
    per_device = max(1, messages // N_DEVICES)
    messages = per_device * N_DEVICES
    devices = fleet_ids("bench", 50, N_DEVICES // 50)
    opts = {"profile": profile, "latency_rate_msg_s": latency_rate_msg_s, "latency_seconds": latency_seconds}
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally block below
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = start_tansu(port, log=log)
    try:
        topic = f"bench.readings.{uuid.uuid4().hex[:6]}"
        prefill_rate = _prefill(bootstrap, topic, devices, per_device)
        backends: dict[str, Any] = {}
        for name in chosen:
            try:
                backends[name] = _backend_figures(name, bootstrap, topic, devices, per_device, broker.pid, opts)
            except (FileNotFoundError, RuntimeError) as exc:
                backends[name] = {"error": str(exc)}
        poll_rate = poll_only_rate(bootstrap, topic, messages)
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
        log.close()
    return {
        "backends": backends,
        "targets": {"ratio_min": TARGET_RATIO, "latency_p99_max_s": TARGET_P99_S,
                    "latency_rate_msg_s": latency_rate_msg_s},
        "targets_met": all(b.get("targets_met", False) for b in backends.values()),
        "rows": messages, "devices": N_DEVICES, "partitions": PARTITIONS,
        "batch_max_messages": load_settings().batch_max_messages,
        "batch_max_wait_ms": load_settings().batch_max_wait_ms,
        "prefill_msgs_per_s": round(prefill_rate),
        "kafka_poll_only_msgs_per_s": round(poll_rate),
        "decode_only_msgs_per_s": round(_decode_rate(devices, per_device)),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
