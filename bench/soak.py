"""Soak: mixed ingest traffic under faults, end to end, with live stream clients (issue 11).

Real parts, each its own process or thread, on free ports:

* a Tansu broker (readings topic with 3 partitions, dead-letter topic);
* a private PostgreSQL cluster (``initdb`` + ``pg_ctl``), migrated, restarted once mid-run
  (``pg_ctl stop -m immediate``, down for ``db_down_s``);
* ``python -m consumer`` (the real consumer), killed with SIGKILL every ``kill_every_s`` once it
  has joined its group, and restarted at once;
* the API (``create_app`` under uvicorn) with ``clients`` SSE clients on ``/v1/stream`` that
  reconnect like a browser's EventSource when a stream breaks.

Traffic: every second one reading per device (``ts`` = that second, ``seq`` = tick), every
``burst_every_s`` a catch-up burst of ``burst_rows`` readings of one device (consumer
transactions larger than one stream page), and one bad message per second, cycling through
``producer.badtraffic.REJECT_KINDS`` (malformed JSON, wrong types, out of range, unknown
device, …). Readings are encoded by the contract and sent with acks=all; every acked message is
recorded with its partition/offset.

Result (``heliosgrid bench soak --json``; ``--duration S`` for a shorter run); ``ok`` is true
when nothing is lost or duplicated, every bad message is quarantined exactly once and no stream
stalled:

* ``lost`` — acked good readings (device, seq) not in ``readings``; ``duplicated`` — rows beyond
  one per (device, seq);
* ``quarantined_exactly_once`` — every bad message's (partition, offset) is in ``quarantine``
  exactly once and nothing else is; ``dead_lettered`` — DLQ records (expected: ``bad_messages``);
* ``stalled_streams`` — clients that did not receive the final reading of every device within
  ``final_wait_s`` after it was stored (each client must be up to date at the end);
* counts: ``good_messages``, ``bad_messages``, ``consumer_kills``, ``db_restarts``,
  ``stream_events``, ``stream_reconnects``, ``stream_duplicates``; ``throughput_ratio`` =
  stored readings / acked readings (1.0 = nothing missing).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from kafka import KafkaProducer

from heliosgrid.api import create_app
from heliosgrid.api.auth import create_key
from heliosgrid.broker import ensure_topics, start_tansu
from heliosgrid.contract import encode_reading
from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.ingest.synthetic import fleet_ids, reading, register_devices
from heliosgrid.settings import load_settings
from producer.badtraffic import REJECT_KINDS, make_bad_messages
from tests.integration.consumer.ingest_helpers import (
    ThrowawayCluster,
    committed_offsets,
    consumer_env,
    free_port,
    start_consumer,
    stop,
    wait_for,
)

PARTITIONS = 3
SITES = 3
DEVICES_PER_SITE = 4
FINAL_SEQ = 10_000_000


@dataclass
class Ledger:
    """What the broker acknowledged: good (device_id, seq) pairs and bad (partition, offset)."""

    good: set[tuple[str, int]] = field(default_factory=set)
    bad: set[tuple[int, int]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Clock:
    """Run-relative times and the stop flag shared by the worker threads."""

    started: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


# ---------------------------------------------------------------------------------- traffic
class Traffic:
    """Produces the mixed traffic once per second until ``clock.stop``; records acks in ``ledger``."""

    def __init__(self, bootstrap: str, topic: str, devices: list[tuple[str, str]], burst_device: tuple[str, str],
                 burst_every_s: float, burst_rows: int) -> None:
        self.topic = topic
        self.devices = devices
        self.burst_device = burst_device
        self.burst_every_s = burst_every_s
        self.burst_rows = burst_rows
        self.ledger = Ledger()
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
        self._pending: list[tuple[str, Any, Any]] = []
        self.bursts = 0

    def _send_good(self, device_id: str, site_id: str, ts: datetime, seq: int) -> None:
        fut = self.producer.send(self.topic, key=device_id.encode(), value=encode_reading(reading(device_id, site_id, ts, seq)))
        self._pending.append(("good", (device_id, seq), fut))

    def _send_bad(self, i: int) -> None:
        kind = REJECT_KINDS[i % len(REJECT_KINDS)]
        key, value, _ = make_bad_messages(kind, 4, seed=i, devices=self.devices)[i % 4]
        self._pending.append(("bad", None, self.producer.send(self.topic, key=key, value=value)))

    def _settle(self) -> None:
        self.producer.flush(timeout=60)
        with self.ledger.lock:
            for kind, ident, fut in self._pending:
                meta = fut.get(timeout=60)  # raises if the broker did not ack: the soak then fails loudly
                if kind == "good":
                    self.ledger.good.add(ident)
                else:
                    self.ledger.bad.add((meta.partition, meta.offset))
        self._pending.clear()

    def tick(self, i: int, now: datetime, elapsed_s: float) -> None:
        """One second of traffic: a reading per device, one bad message, maybe a burst."""
        for device_id, site_id in self.devices:
            self._send_good(device_id, site_id, now, i)
        self._send_bad(i)
        if elapsed_s >= (self.bursts + 1) * self.burst_every_s:
            device_id, site_id = self.burst_device
            base = now - timedelta(hours=6)
            for k in range(self.burst_rows):
                seq = self.bursts * self.burst_rows + k
                self._send_good(device_id, site_id, base + timedelta(seconds=seq), seq)
            self.bursts += 1
        self._settle()

    def run(self, clock: Clock, duration_s: float) -> None:
        """Tick ``i`` carries ``ts = t0 + i s`` (one row per device and second: no upsert collisions)."""
        self.t0 = datetime.now(UTC).replace(microsecond=0)
        self.ticks = 0
        while clock.elapsed() < duration_s:
            self.tick(self.ticks, self.t0 + timedelta(seconds=self.ticks), clock.elapsed())
            self.ticks += 1
            time.sleep(max(0.0, clock.started + self.ticks - time.monotonic()))

    def final_readings(self) -> None:
        """One last reading per device (``seq`` = ``FINAL_SEQ``): every stream client must see them."""
        ts = self.t0 + timedelta(seconds=self.ticks)
        for device_id, site_id in self.devices:
            self._send_good(device_id, site_id, ts, FINAL_SEQ)
        self._settle()
        self.producer.close(timeout=10)


# ---------------------------------------------------------------------------------- consumer
class ConsumerKiller:
    """Keeps one ``python -m consumer`` running; SIGKILLs it every ``kill_every_s`` (once it has
    joined its group: Tansu never expires a member killed mid-JoinGroup) and restarts it."""

    def __init__(self, env: dict[str, str], log_dir: Path, kill_every_s: float) -> None:
        self.env = env
        self.log_dir = log_dir
        self.kill_every_s = kill_every_s
        self.kills = 0
        self.unexpected_exits: list[int] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.finish = threading.Event()
        self._log: Path | None = None

    def _start(self) -> None:
        self._log = self.log_dir / f"consumer-{self.kills}.log"
        self.proc = start_consumer(self.env, self._log)

    def _joined(self) -> bool:
        return self._log is not None and "assigned partitions" in self._log.read_text(errors="replace")

    def run(self, clock: Clock) -> None:
        """Until :attr:`finish`: restart the consumer whenever it is gone; kill it on schedule
        while the traffic runs (``clock.stop`` not set)."""
        self._start()
        next_kill = self.kill_every_s
        while not self.finish.is_set():
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:  # it should never exit on its own: record and restart
                self.unexpected_exits.append(code)
                self._start()
            elif not clock.stop.is_set() and clock.elapsed() >= next_kill and self._joined():
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
                self.kills += 1
                next_kill = clock.elapsed() + self.kill_every_s
                self._start()
            self.finish.wait(0.5)

    def stop(self) -> int:
        """End :meth:`run` and SIGTERM the consumer; its exit status (0 = clean)."""
        self.finish.set()
        time.sleep(0.6)
        assert self.proc is not None
        return stop(self.proc, timeout_s=60)


# ---------------------------------------------------------------------------------- streams
class StreamClient:
    """One SSE client: keeps ``/v1/stream`` open, reconnecting after 1 s when it breaks, and
    records every reading (device_id, seq) it receives."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.seen: set[tuple[str, int]] = set()
        self.events = 0
        self.duplicates = 0
        self.connects = 0
        self.done = threading.Event()

    def _listen(self) -> None:
        self.connects += 1
        with httpx.stream("GET", self.base_url + "/v1/stream", headers={"X-API-Key": self.key},
                          timeout=httpx.Timeout(10, read=40)) as resp:
            if resp.status_code != 200:
                time.sleep(1)
                return
            event = None
            for line in resp.iter_lines():
                if self.done.is_set():
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "reading":
                    row = json.loads(line[6:])
                    ident = (row["device_id"], int(row["seq"]))
                    self.events += 1
                    if ident in self.seen:
                        self.duplicates += 1
                    self.seen.add(ident)

    def run(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(httpx.HTTPError):
                self._listen()
            self.done.wait(1.0)


@contextlib.contextmanager
def api_server(db_url: str, clients: int) -> Iterator[str]:
    """The API under uvicorn in a thread on a free port; yields its base URL."""
    port = free_port()
    app = create_app(load_settings(api_rate_limit_per_min=100_000), db_url, stream_poll_interval_s=1.0,
                     max_streams_per_key=clients, pool_max_size=10)
    # "critical": at shutdown uvicorn cancels the still-open streams and would log each as an error
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on",
                                           timeout_graceful_shutdown=3))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the API to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# ---------------------------------------------------------------------------------- the run
@dataclass
class Rig:
    """The services of one soak run."""

    cluster: ThrowawayCluster
    db_url: str
    bootstrap: str
    topics: dict[str, str]
    devices: list[tuple[str, str]]
    burst_device: tuple[str, str]
    key: str


@contextlib.contextmanager
def rig(work_dir: Path) -> Iterator[Rig]:
    """Broker, throwaway PostgreSQL (migrated, fleet registered) and an API key."""
    port = free_port()
    with open(work_dir / "broker.log", "wb") as fh:
        broker = start_tansu(port, log=fh)
    cluster = ThrowawayCluster(free_port())
    try:
        cluster.start()
        db_url = cluster.url(cluster.create_db())
        suffix = uuid.uuid4().hex[:8]
        topics = {"readings": f"soak.readings.{suffix}", "dlq": f"soak.readings.dlq.{suffix}"}
        bootstrap = f"127.0.0.1:{port}"
        ensure_topics(bootstrap, {topics["readings"]: PARTITIONS, topics["dlq"]: 1})
        devices = fleet_ids(f"soak{suffix[:4]}", SITES, DEVICES_PER_SITE)
        burst_device = (f"soak{suffix[:4]}-burst-inv1", devices[0][1])
        with open_connection(db_url, autocommit=True) as conn:
            migrate(conn, requested_backend="postgres")
            register_devices(conn, [*devices, burst_device])
            key = create_key(conn, "soak", ["read"]).secret
        yield Rig(cluster, db_url, bootstrap, topics, devices, burst_device, key)
    finally:
        cluster.destroy()
        broker.kill()
        broker.wait(timeout=10)


def _restart_db(r: Rig, clock: Clock, at_s: float, down_s: float, restarts: list[float]) -> None:
    """Stop PostgreSQL with ``-m immediate`` at ``at_s`` (run time), start it ``down_s`` later."""
    if clock.stop.wait(max(0.0, at_s - clock.elapsed())):
        return
    r.cluster.stop("immediate")
    time.sleep(down_s)
    r.cluster.start()
    restarts.append(round(clock.elapsed(), 1))


def _drained(r: Rig, group: str) -> bool:
    """True once the group committed the end offset of every partition."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=r.bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(r.topics["readings"], p) for p in range(PARTITIONS)]
        ends = c.end_offsets(tps)
    finally:
        c.close()
    done = committed_offsets(r.bootstrap, group, r.topics["readings"], PARTITIONS)
    return all((done[tp.partition] or 0) >= ends[tp] for tp in tps)


def _db_figures(r: Rig, ledger: Ledger) -> dict[str, Any]:
    ids = [d for d, _ in r.devices] + [r.burst_device[0]]
    with psycopg.connect(r.db_url) as conn:
        stored = conn.execute("SELECT device_id, seq FROM readings WHERE device_id = ANY(%s)", (ids,)).fetchall()
        quarantined = conn.execute(
            "SELECT source_partition, source_offset, count(*) FROM quarantine WHERE source_topic = %s "
            "GROUP BY 1, 2", (r.topics["readings"],),
        ).fetchall()
    stored_set = {(d, int(s)) for d, s in stored}
    q = {(int(p), int(o)): int(n) for p, o, n in quarantined}
    return {
        "good_messages": len(ledger.good),
        "bad_messages": len(ledger.bad),
        "stored_readings": len(stored),
        "lost": len(ledger.good - stored_set),
        "duplicated": len(stored) - len(stored_set),
        "unexpected_rows": len(stored_set - ledger.good),
        "quarantined": sum(q.values()),
        "quarantined_exactly_once": set(q) == ledger.bad and all(n == 1 for n in q.values()),
        "quarantined_unexpected": len(set(q) - ledger.bad),
        "throughput_ratio": round(len(stored_set & ledger.good) / max(1, len(ledger.good)), 6),
    }


def _dlq_count(r: Rig) -> int:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=r.bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(r.topics["dlq"], 0)
        return int(c.end_offsets([tp])[tp])
    finally:
        c.close()


def _stalled(clients: list[StreamClient], devices: list[tuple[str, str]], wait_s: float) -> int:
    final = {(d, FINAL_SEQ) for d, _ in devices}
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(not final <= c.seen for c in clients):
        time.sleep(0.5)
    return sum(1 for c in clients if not final <= c.seen)


def run(duration_s: float = 600.0, kill_every_s: float = 120.0, clients: int = 20, db_down_s: float = 5.0,
        burst_every_s: float = 60.0, burst_rows: int = 1500, final_wait_s: float = 60.0) -> dict[str, Any]:
    """Run the soak for ``duration_s`` seconds of traffic (plus drain) and return its figures."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="helios-soak-") as tmp, rig(Path(tmp)) as r:
        group = f"soak-{uuid.uuid4().hex[:8]}"
        env = consumer_env(r.db_url, r.bootstrap, r.topics, group, batch_max_messages=2000, batch_max_wait_ms=300)
        clock = Clock()
        killer = ConsumerKiller(env, Path(tmp), kill_every_s)
        traffic = Traffic(r.bootstrap, r.topics["readings"], r.devices, r.burst_device, burst_every_s, burst_rows)
        restarts: list[float] = []
        with api_server(r.db_url, clients) as base_url:
            streams = [StreamClient(base_url, r.key) for _ in range(clients)]
            threads = [threading.Thread(target=c.run, daemon=True) for c in streams]
            threads.append(threading.Thread(target=killer.run, args=(clock,), daemon=True))
            threads.append(threading.Thread(target=_restart_db, args=(r, clock, duration_s / 2, db_down_s, restarts),
                                            daemon=True))
            for t in threads:
                t.start()
            traffic.run(clock, duration_s)
            traffic.final_readings()
            clock.stop.set()  # no more kills; the consumer drains what is left
            wait_for(lambda: _drained(r, group), 300, "the consumer to commit every offset", every_s=1.0)
            stalled = _stalled(streams, r.devices, final_wait_s)
            for c in streams:
                c.done.set()
            exit_code = killer.stop()
        figures = _db_figures(r, traffic.ledger)
        ok = (figures["lost"] == 0 and figures["duplicated"] == 0 and figures["quarantined_exactly_once"]
              and stalled == 0 and figures["unexpected_rows"] == 0)
        return {
            "ok": ok,
            "duration_s": duration_s,
            **figures,
            "dead_lettered": _dlq_count(r),
            "stalled_streams": stalled,
            "stream_clients": clients,
            "stream_events": sum(c.events for c in streams),
            "stream_reconnects": sum(c.connects - 1 for c in streams),
            "stream_duplicates": sum(c.duplicates for c in streams),
            "consumer_kills": killer.kills,
            "consumer_unexpected_exits": killer.unexpected_exits,
            "consumer_final_exit_code": exit_code,
            "db_restarts": len(restarts),
            "db_restart_at_s": restarts,
            "bursts": traffic.bursts,
        }
