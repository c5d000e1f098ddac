"""Helpers for the consumer integration tests: produce messages, run ``python -m consumer``,
read committed offsets, and a throwaway PostgreSQL cluster that can be killed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from heliosgrid.broker import ensure_topics
from heliosgrid.contract import ReadingV1, encode_reading

REPO = Path(__file__).resolve().parents[3]
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.2) -> None:
    """Poll ``cond`` until true or fail the test with ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def make_topics(bootstrap: str, topics: dict[str, str], partitions: int = 1) -> None:
    ensure_topics(bootstrap, {topics["readings"]: partitions, topics["dlq"]: 1})


def produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]], partition: int | None = None
) -> int:
    """Send raw ``(key, value)`` pairs with acks=all; returns how many were sent."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    n = 0
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value, partition=partition)
            n += 1
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return n


def produce_readings(bootstrap: str, topic: str, readings: Iterable[ReadingV1]) -> int:
    return produce(bootstrap, topic, ((r.device_id.encode(), encode_reading(r)) for r in readings))


def consumer_env(
    db_url: str, bootstrap: str, topics: dict[str, str], group: str, **extra: str | int | float
) -> dict[str, str]:
    """Environment for ``python -m consumer`` (metrics off, fast batches, short retry budget)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
    env.update(
        {
            "HELIOS_DATABASE_URL": db_url,
            "HELIOS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HELIOS_TOPIC_READINGS": topics["readings"],
            "HELIOS_TOPIC_DLQ": topics["dlq"],
            "HELIOS_CONSUMER_GROUP": group,
            "HELIOS_CONSUMER_METRICS_PORT": "0",
            "HELIOS_BATCH_MAX_MESSAGES": "500",
            "HELIOS_BATCH_MAX_WAIT_MS": "200",
            "HELIOS_DB_RETRY_BUDGET_S": "60",
            "HELIOS_DB_RETRY_INITIAL_BACKOFF_S": "0.2",
            "HELIOS_CONSUMER_ROLLUP_REFRESH_INTERVAL_S": "1",
        }
    )
    env.update({f"HELIOS_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def start_consumer(env: dict[str, str], log_path: Path, crash_after_db_commit: int | None = None
                   ) -> subprocess.Popen[bytes]:
    """Start ``python -m consumer`` with its output appended to ``log_path``.

    ``crash_after_db_commit=N`` runs the same service with an injected hook that exits 137 right
    after its N-th database commit (``crashing_consumer.py``).
    """
    cmd = [PYTHON, "-m", "consumer"]
    if crash_after_db_commit is not None:
        cmd = [PYTHON, str(Path(__file__).with_name("crashing_consumer.py")), str(crash_after_db_commit)]
    with open(log_path, "ab") as fh:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
    """Signal ``proc`` and wait; kills it if it does not exit in time (then fails)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"consumer did not exit within {timeout_s} s after signal {sig}") from None


def consume_all(bootstrap: str, topics: dict[str, str], db_url: str, total: int, log_path: Path,
                **extra: str | int | float) -> str:
    """Run ``python -m consumer`` (a new group) until all ``total`` offsets of partition 0 are committed, then
    SIGTERM it; fails if it exits early or not with 0. Returns its log."""
    group = f"all-{uuid.uuid4().hex[:8]}"
    proc = start_consumer(consumer_env(db_url, bootstrap, topics, group, **extra), log_path)
    try:
        wait_for(lambda: committed_offsets(bootstrap, group, topics["readings"], 1)[0] == total
                 or proc.poll() is not None, 90, "all offsets committed")
        assert proc.poll() is None, f"consumer exited with {proc.returncode}: {log_path.read_text()[-3000:]}"
    finally:
        rc = stop(proc)
    text = log_path.read_text()
    assert rc == 0, text[-3000:]
    return text


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    """The group's committed offset per partition (None = nothing committed)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {p: c.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        c.close(autocommit=False)


def dlq_messages(bootstrap: str, topic: str, expected: int, timeout_s: float = 20) -> list[tuple[bytes | None, dict[str, bytes]]]:
    """Read the DLQ from the start until ``expected`` messages (or the timeout): (value, headers)."""
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                      group_id=None, consumer_timeout_ms=2000)
    out: list[tuple[bytes | None, dict[str, bytes]]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for batch in c.poll(timeout_ms=500).values():
                out.extend((m.value, dict(m.headers)) for m in batch)
        # one more short poll: anything beyond `expected` is a defect the test should see
        for batch in c.poll(timeout_ms=1000).values():
            out.extend((m.value, dict(m.headers)) for m in batch)
    finally:
        c.close()
    return out


def reading_counts(db_url: str, device_prefix: str) -> tuple[int, int]:
    """(rows, distinct (device, seq)) for devices starting with ``device_prefix``."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM readings WHERE device_id LIKE %s",
            (device_prefix + "%",),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def missing_seqs(db_url: str, devices: Sequence[str], per_device: int) -> dict[str, list[int]]:
    """Per device, the seqs in [0, per_device) absent from readings (empty dict = no gaps)."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT device_id, array_agg(seq) FROM readings WHERE device_id = ANY(%s) GROUP BY device_id",
            (list(devices),),
        ).fetchall()
    have = {d: set(s) for d, s in rows}
    out: dict[str, list[int]] = {}
    for d in devices:
        gap = sorted(set(range(per_device)) - have.get(d, set()))
        if gap:
            out[d] = gap[:20]
    return out


class ThrowawayCluster:
    """A private PostgreSQL cluster (initdb + pg_ctl) on a free port, killable with ``-m immediate``.

    Runs as the ``postgres`` OS user when the tests run as root (initdb refuses root).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="helios-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])

    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self._as_user + cmd, capture_output=True, check=check, timeout=120)

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c max_connections=30"
        self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start"])

    def stop(self, mode: str = "immediate") -> None:
        self._run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"], check=False)

    def url(self, dbname: str = "postgres", password: str | None = None) -> str:
        auth = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def create_db(self) -> str:
        name = f"helios_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
