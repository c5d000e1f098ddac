"""Reliability of the ingest consumer: real Tansu broker, real PostgreSQL, real subprocesses.

Every test runs ``python -m consumer`` as a subprocess with ``HELIOS_*`` env, on its own topics
and consumer group, and checks the database afterwards: every (device, seq) exactly once, the
rejected messages (only they) in the DLQ and quarantine with their reason.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from ingest_helpers import (
    ThrowawayCluster,
    committed_offsets,
    consumer_env,
    dlq_messages,
    free_port,
    make_topics,
    missing_seqs,
    produce,
    produce_readings,
    reading_counts,
    start_consumer,
    stop,
    wait_for,
)

from heliosgrid.contract import encode_reading
from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.ingest.synthetic import fleet_ids, readings_stream, register_devices

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)


def _fleet(db_url: str, n_sites: int = 2, per_site: int = 3) -> tuple[str, list[tuple[str, str]]]:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    devices = fleet_ids(prefix, n_sites, per_site)
    with psycopg.connect(db_url) as conn:
        register_devices(conn, devices)
    return prefix, devices


def _group() -> str:
    return f"test-group-{uuid.uuid4().hex[:8]}"


def _assert_exactly_once(db_url: str, prefix: str, devices: list[tuple[str, str]], per_device: int) -> None:
    rows, distinct = reading_counts(db_url, prefix)
    assert missing_seqs(db_url, [d for d, _ in devices], per_device) == {}
    assert rows == distinct == len(devices) * per_device


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    """A private PostgreSQL cluster that tests may stop with ``-m immediate``."""
    c = ThrowawayCluster(free_port())
    c.start()
    try:
        yield c
    finally:
        c.destroy()


@pytest.fixture
def cluster_db(cluster: ThrowawayCluster) -> str:
    """A migrated database on the throwaway cluster (started if a test left it stopped)."""
    try:
        with psycopg.connect(cluster.url(), connect_timeout=2):
            pass
    except psycopg.OperationalError:
        cluster.start()
    url = cluster.url(cluster.create_db())
    with open_connection(url, autocommit=True) as conn:
        migrate(conn, requested_backend="postgres")
    return url


def test_poison_messages_reach_dlq_and_quarantine_with_reason_and_good_ones_are_stored(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    prefix, devices = _fleet(db, 1, 2)
    make_topics(broker, topic_names)
    good = list(readings_stream(devices, START, 20))
    dev, _site = devices[0]
    base = json.loads(encode_reading(good[0]))

    def variant(**changes: object) -> bytes:
        obj = dict(base, **changes)
        return json.dumps(obj).encode()

    missing = dict(base)
    del missing["ts"]
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    poison: list[tuple[str, bytes | None, bytes]] = [
        ("malformed_json", dev.encode(), b'{"schema_version": 1, "device_id": '),
        ("not_an_object", dev.encode(), b"[1, 2, 3]"),
        ("unsupported_schema_version", dev.encode(), variant(schema_version=7)),
        ("wrong_type", dev.encode(), variant(seq="seventeen")),
        ("missing_field", dev.encode(), json.dumps(missing).encode()),
        ("out_of_range", dev.encode(), variant(poa_w_m2=5000.0)),
        ("implausible", dev.encode(), variant(dc_power_kw=10.0, ac_power_kw=50.0)),
        ("unknown_device", b"nobody-inv1", variant(device_id="nobody-inv1")),
        ("key_mismatch", b"someone-else", variant()),
        ("future_timestamp", dev.encode(), variant(ts=future)),
    ]
    # Interleave: poison messages sit in the middle of good traffic, inside the same batches.
    expected_codes = [code for code, _, _ in poison]
    stream: list[tuple[bytes | None, bytes | None]] = []
    poison_values: list[bytes] = []
    todo = list(poison)
    for i, r in enumerate(good):
        stream.append((r.device_id.encode(), encode_reading(r)))
        if i % 4 == 1 and todo:
            _, key, value = todo.pop(0)
            stream.append((key, value))
            poison_values.append(value)
    assert not todo, "test set-up: every poison message must be interleaved"
    produce(broker, topic_names["readings"], stream, partition=0)

    group = _group()
    log = tmp_path / "consumer.log"
    metrics_port = free_port()
    proc = start_consumer(consumer_env(db, broker, topic_names, group, batch_max_messages=1000,
                                       batch_max_wait_ms=500, consumer_metrics_port=metrics_port), log)
    try:
        wait_for(lambda: committed_offsets(broker, group, topic_names["readings"], 1)[0] == len(stream), 60,
                 "all offsets committed")
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
    finally:
        assert stop(proc) == 0, log.read_text()

    _assert_exactly_once(db, prefix, devices, 20)
    with psycopg.connect(db) as conn:
        q = conn.execute(
            "SELECT reason_code, raw_payload, source_partition, source_offset FROM quarantine "
            "WHERE source_topic = %s ORDER BY source_offset", (topic_names["readings"],)
        ).fetchall()
    assert [r[0] for r in q] == expected_codes
    assert [bytes(r[1]) for r in q] == poison_values
    offset_of = {v: i for i, (_, v) in enumerate(stream)}
    assert [r[3] for r in q] == [offset_of[v] for v in poison_values]

    dlq = dlq_messages(broker, topic_names["dlq"], len(expected_codes))
    assert sorted(h["reason_code"].decode() for _, h in dlq) == sorted(expected_codes)
    assert sorted(v or b"" for v, _ in dlq) == sorted(poison_values)
    assert all(h["source_topic"].decode() == topic_names["readings"] for _, h in dlq)
    assert all(h["reason_detail"] for _, h in dlq)

    # Prometheus: rejects by reason, messages, lag per partition
    for code in expected_codes:
        assert f'helios_consumer_rejects_total{{reason="{code}"}} 1.0' in metrics
    assert f"helios_consumer_messages_total {float(len(stream))}" in metrics
    assert f'helios_consumer_rows_written_total {float(len(good))}' in metrics
    assert f'helios_consumer_lag_messages{{partition="0",topic="{topic_names["readings"]}"}} 0.0' in metrics
    assert "helios_consumer_batch_latency_seconds_count" in metrics



def _joined(log: Path, pid: int) -> bool:
    """True once the consumer with ``pid`` logged its first partition assignment."""
    marker = f"-{pid}: topic"
    text = log.read_text()
    return marker in text and "assigned partitions" in text.split(marker, 1)[1]


def _run_until_committed(
    broker: str, group: str, topic: str, partitions: int, total: int, env: dict[str, str], log: Path,
    timeout_s: float = 90,
) -> None:
    """Run a clean consumer until every offset of ``topic`` is committed, then SIGTERM it (exit 0)."""
    proc = start_consumer(env, log)
    try:
        wait_for(lambda: _joined(log, proc.pid), timeout_s, "the consumer to join its group")
        wait_for(lambda: sum(o or 0 for o in committed_offsets(broker, group, topic, partitions).values()) >= total,
                 timeout_s, f"{total} offsets committed", every_s=0.5)
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]


def test_kill_9_between_db_commit_and_offset_commit_repeatedly_loses_and_duplicates_nothing(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    prefix, devices = _fleet(db, 2, 3)
    per_device = 150
    make_topics(broker, topic_names, partitions=3)
    total = produce_readings(broker, topic_names["readings"], readings_stream(devices, START, per_device))
    group = _group()
    log = tmp_path / "consumer.log"
    crashes = 0
    for _ in range(3):
        env = consumer_env(db, broker, topic_names, group, batch_max_messages=60)
        proc = start_consumer(env, log, crash_after_db_commit=2)
        try:
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert rc == 137, log.read_text()[-3000:]
        crashes += 1
        # the batch stored by the crashed run has no committed offset: it will be re-delivered
        rows, distinct = reading_counts(db, prefix)
        assert rows == distinct
    # plus a plain kill -9 at an arbitrary moment of a normal run
    proc = start_consumer(consumer_env(db, broker, topic_names, group, batch_max_messages=60), log)
    try:
        wait_for(lambda: reading_counts(db, prefix)[0] > 0, 30, "rows")
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    _run_until_committed(broker, group, topic_names["readings"], 3, total,
                         consumer_env(db, broker, topic_names, group), log)
    assert crashes == 3
    assert log.read_text().count("between DB commit and offset commit") == 3
    _assert_exactly_once(db, prefix, devices, per_device)


def test_sigterm_sigkill_loop_while_producing_has_no_gaps_and_no_duplicates(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    prefix, devices = _fleet(db, 2, 3)
    per_device = 200
    make_topics(broker, topic_names, partitions=3)
    produced: list[int] = []

    def producer() -> None:
        # ~12 s of steady traffic in small chunks
        stream = list(readings_stream(devices, START, per_device))
        for i in range(0, len(stream), 60):
            produced.append(produce_readings(broker, topic_names["readings"], stream[i:i + 60]))
            time.sleep(0.5)

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    group = _group()
    log = tmp_path / "consumer.log"
    signals = [signal.SIGTERM, signal.SIGKILL, signal.SIGTERM, signal.SIGKILL]
    for i, sig in enumerate(signals):
        proc = start_consumer(consumer_env(db, broker, topic_names, group, batch_max_messages=100), log)
        # Tansu (the local broker) never expires a member that disappears in the middle of its
        # JoinGroup (SIGTERM or SIGKILL), which stalls the whole group; Apache Kafka expires it
        # after the rebalance timeout. So the signal lands while the member consumes.
        try:
            wait_for(lambda p=proc.pid: _joined(log, p), 60, "the consumer to join its group")  # type: ignore[misc]
        except AssertionError:
            proc.kill()
            raise
        time.sleep(0.5 + 0.7 * i)
        rc = stop(proc, sig)
        assert rc == (0 if sig == signal.SIGTERM else -signal.SIGKILL), log.read_text()[-3000:]
    thread.join(timeout=60)
    assert not thread.is_alive()
    total = sum(produced)
    assert total == len(devices) * per_device
    _run_until_committed(broker, group, topic_names["readings"], 3, total,
                         consumer_env(db, broker, topic_names, group), log)
    _assert_exactly_once(db, prefix, devices, per_device)
    assert log.read_text().count("SIGTERM received") >= 3


def test_postgres_immediate_stop_mid_run_then_restart_recovers_without_loss(
    broker: str, topic_names: dict[str, str], cluster: ThrowawayCluster, cluster_db: str, tmp_path: Path
) -> None:
    prefix, devices = _fleet(cluster_db, 2, 3)
    per_device = 100
    make_topics(broker, topic_names, partitions=3)
    stream = list(readings_stream(devices, START, per_device))
    half = len(stream) // 2
    produce_readings(broker, topic_names["readings"], stream[:half])
    group = _group()
    log = tmp_path / "consumer.log"
    proc = start_consumer(consumer_env(cluster_db, broker, topic_names, group, batch_max_messages=50,
                                      db_retry_budget_s=60), log)
    try:
        wait_for(lambda: reading_counts(cluster_db, prefix)[0] > 0, 30, "first rows")
        cluster.stop("immediate")
        produce_readings(broker, topic_names["readings"], stream[half:])
        time.sleep(4.0)  # the consumer is now retrying with paused partitions
        assert proc.poll() is None, log.read_text()[-3000:]
        cluster.start()
        wait_for(lambda: sum(o or 0 for o in committed_offsets(broker, group, topic_names["readings"], 3).values())
                 >= len(stream), 60, "all offsets committed after the restart", every_s=0.5)
        assert proc.poll() is None
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "database error (retry in" in text
    assert "database available again after" in text  # the end of the outage is logged (issue 11 #13)
    _assert_exactly_once(cluster_db, prefix, devices, per_device)
    with psycopg.connect(cluster_db) as conn:
        beats = conn.execute("SELECT status FROM heartbeats WHERE component = 'consumer'").fetchall()
    assert beats == [("stopping",)]


def test_database_down_past_retry_budget_exits_nonzero_commits_nothing_and_hides_password(
    broker: str, topic_names: dict[str, str], cluster: ThrowawayCluster, cluster_db: str, tmp_path: Path
) -> None:
    prefix, devices = _fleet(cluster_db, 1, 2)
    make_topics(broker, topic_names, partitions=1)
    password = "S3cret-pw-" + uuid.uuid4().hex[:8]
    dbname = cluster_db.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url(dbname), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE postgres PASSWORD '{password}'")
    url_with_password = cluster.url(dbname, password=password)
    first = list(readings_stream(devices, START, 10))
    produce_readings(broker, topic_names["readings"], first)
    group = _group()
    log = tmp_path / "consumer.log"
    proc = start_consumer(consumer_env(url_with_password, broker, topic_names, group, db_retry_budget_s=4,
                                      db_retry_initial_backoff_s=0.5), log)
    try:
        wait_for(lambda: committed_offsets(broker, group, topic_names["readings"], 1)[0] == len(first), 30,
                 "first batch committed")
        cluster.stop("immediate")
        produce_readings(broker, topic_names["readings"], readings_stream(devices, START + timedelta(hours=1), 10))
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.start()
    text = log.read_text()
    assert rc == 3, text[-3000:]
    assert password not in text
    last = text.strip().splitlines()
    errors = [line for line in last if " ERROR " in line]
    assert len(errors) == 1 and "retry budget 4 s" in errors[0] and "no offsets committed" in errors[0], errors
    assert "***@" in errors[0]
    assert "Traceback" not in text
    assert committed_offsets(broker, group, topic_names["readings"], 1)[0] == len(first)
    assert reading_counts(url_with_password, prefix)[0] == len(first)


def test_three_consumers_on_three_partitions_store_every_reading_exactly_once(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    prefix, devices = _fleet(db, 3, 4)
    per_device = 60
    make_topics(broker, topic_names, partitions=3)
    group = _group()
    logs = [tmp_path / f"consumer{i}.log" for i in range(3)]
    procs = [start_consumer(consumer_env(db, broker, topic_names, group, batch_max_messages=100), lg)
             for lg in logs]

    def assignments() -> list[set[int]]:
        out = []
        for lg in logs:
            lines = [ln for ln in lg.read_text().splitlines() if "assigned partitions:" in ln]
            out.append(set(json.loads(lines[-1].split("assigned partitions:")[1])) if lines else set())
        return out

    try:
        wait_for(lambda: all(assignments()) and set().union(*assignments()) == {0, 1, 2}, 60,
                 "each consumer to own a partition")
        total = produce_readings(broker, topic_names["readings"], readings_stream(devices, START, per_device))
        wait_for(lambda: sum(o or 0 for o in committed_offsets(broker, group, topic_names["readings"], 3).values())
                 >= total, 60, "all offsets committed", every_s=0.5)
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0, 0], [lg.read_text()[-2000:] for lg in logs]
    final = assignments()
    assert all(len(a) == 1 for a in final) and set().union(*final) == {0, 1, 2}
    _assert_exactly_once(db, prefix, devices, per_device)
    with psycopg.connect(db) as conn:
        instances = conn.execute("SELECT count(*) FROM heartbeats WHERE component = 'consumer'").fetchone()
    assert instances == (3,)
