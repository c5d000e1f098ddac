"""Producer against the real broker (Tansu) and real PostgreSQL.

* backfill of N readings for 2 devices: a consumer reads every one; keys, partitions and
  per-device seq order verified;
* SIGTERM during an accelerated run: flush, exit 0, every reading it counted is readable;
  a restart resumes from the checkpoint with no gap and no reused seq;
* with a database: fleet registered, heartbeat row, fault ground truth upserted idempotently.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from heliosgrid.contract import ReadingV1, decode_reading
from heliosgrid.physics import load_fleet
from heliosgrid.simulation import fault_ground_truth, random_faults
from producer.service import ProducerService, RunConfig
from tests.helpers import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]

FLEET_YAML = """
sites:
  - site_id: it-site
    name: Integration site
    latitude_deg: 37.1
    longitude_deg: -2.4
    altitude_m: 400
    timezone: Europe/Madrid
    inverters: {count: 2, dc_capacity_kw: 120, ac_capacity_kw: 100}
    weather_stations: 0
"""


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.yaml"
    path.write_text(FLEET_YAML, encoding="utf-8")
    return path


def read_all(broker: str, topic: str, idle_ms: int = 4000) -> dict[int, list[tuple[bytes, bytes]]]:
    """Every message of ``topic`` by partition, in offset order."""
    consumer = KafkaConsumer(bootstrap_servers=broker, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=idle_ms)
    try:
        deadline = time.monotonic() + 30
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.2)
            parts = consumer.partitions_for_topic(topic)
        assert parts, f"topic {topic} not found"
        consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
        out: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        for record in consumer:
            out[record.partition].append((record.key, record.value))
        return out
    finally:
        consumer.close()


def test_backfill_every_message_arrives_keyed_and_in_order(
    broker: str, topic_names: dict[str, str], fleet_file: Path, tmp_path: Path
) -> None:
    fleet = load_fleet(fleet_file)
    start = pd.Timestamp("2026-06-01T06:00Z")
    end = start + pd.Timedelta(hours=5)  # 300 steps x 2 inverters = 600 readings
    metrics_port = free_port()
    config = RunConfig(mode="backfill", topic=topic_names["readings"], bootstrap_servers=broker, start=start, end=end,
                       speed=math.inf, seed=3, checkpoint=tmp_path / "ckpt.json", partitions=3,
                       metrics_port=metrics_port)
    stats = ProducerService(config, fleet).run()
    assert stats.exit_code == 0 and stats.good_sent == 600 and stats.delivery_errors == 0
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    assert 'heliosgrid_producer_messages_total{kind="good"} 600.0' in metrics
    assert "heliosgrid_producer_last_reading_timestamp_seconds" in metrics

    by_partition = read_all(broker, topic_names["readings"])
    assert sum(len(v) for v in by_partition.values()) == 600
    device_partition: dict[str, int] = {}
    seqs: dict[str, list[int]] = defaultdict(list)
    for partition, messages in by_partition.items():
        for key, value in messages:
            reading = decode_reading(value, key, now=end.to_pydatetime())
            assert isinstance(reading, ReadingV1), reading
            assert key == reading.device_id.encode()
            assert device_partition.setdefault(reading.device_id, partition) == partition
            seqs[reading.device_id].append(reading.seq)
    assert set(seqs) == {"it-site-inv01", "it-site-inv02"}
    first = int(start.value // 60_000_000_000)
    for device_seqs in seqs.values():
        assert device_seqs == list(range(first, first + 300))  # complete, strictly increasing, in order
    ckpt = json.loads((tmp_path / "ckpt.json").read_text())
    assert pd.Timestamp(ckpt["next_ts"]) == end

    # a second run of the same backfill finds its checkpoint complete and sends nothing
    again = ProducerService(replace(config, metrics_port=0), fleet).run()
    assert again.good_sent == 0


def _producer_cmd(broker: str, topic: str, fleet_file: Path, ckpt: Path, start: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "producer", "realtime", "--speed", "3000", "--start", start,
            "--bootstrap", broker, "--topic", topic, "--fleet", str(fleet_file), "--no-db",
            "--checkpoint", str(ckpt), "--bad-rate", "0", "--seed", "5", *extra]


def test_sigterm_flushes_exits_zero_and_restart_resumes_without_gap(
    broker: str, topic_names: dict[str, str], fleet_file: Path, tmp_path: Path
) -> None:
    topic = topic_names["readings"]
    ckpt = tmp_path / "ckpt.json"
    start = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)).floor("1min")
    env = {**os.environ, "HELIOS_DATA_DIR": str(tmp_path / "data")}
    cmd = _producer_cmd(broker, topic, fleet_file, ckpt, start.isoformat())
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists() and time.monotonic() < deadline:  # running and past its first flush
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SIGTERM" in err and "Traceback" not in err
    state = json.loads(ckpt.read_text())
    sent_first = state["good_sent"]
    assert sent_first > 0

    received = [r for msgs in read_all(broker, topic).values() for r in msgs]
    assert len(received) == sent_first  # everything counted as sent was flushed and is readable

    # restart: resumes at the checkpoint, sends 40 more, no gap and no reused seq per device
    run2 = subprocess.run([*cmd, "--max-messages", "40"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert run2.returncode == 0, run2.stderr
    assert "resuming from checkpoint" in run2.stderr
    seqs: dict[str, list[int]] = defaultdict(list)
    for msgs in read_all(broker, topic).values():
        for key, value in msgs:
            reading = decode_reading(value, key)
            assert isinstance(reading, ReadingV1)
            seqs[reading.device_id].append(reading.seq)
    assert sum(len(v) for v in seqs.values()) == sent_first + 40
    first = int(start.value // 60_000_000_000)
    for device_seqs in seqs.values():
        assert device_seqs == list(range(first, first + len(device_seqs)))


def test_database_side_effects(
    broker: str, topic_names: dict[str, str], fleet_file: Path, tmp_path: Path, pg_db: str
) -> None:
    fleet = load_fleet(fleet_file)
    start, end = pd.Timestamp("2026-05-01T00:00Z"), pd.Timestamp("2026-05-04T00:00Z")
    config = RunConfig(mode="backfill", topic=topic_names["readings"], bootstrap_servers=broker, start=start, end=end,
                       seed=8, faults="random", database_url=pg_db, labels_dir=tmp_path / "labels",
                       heartbeat_interval_s=0.5, bad_rate=0.0)
    stats = ProducerService(config, fleet).run()
    assert stats.exit_code == 0 and stats.fault_events >= 4
    expected = fault_ground_truth(fleet, random_faults(fleet, start, end, 8), start=start, end=end, seed=8)
    with psycopg.connect(pg_db) as conn:
        devices = conn.execute("SELECT device_id, site_id, ac_capacity_kw FROM devices ORDER BY 1").fetchall()
        assert devices == [("it-site-inv01", "it-site", 100.0), ("it-site-inv02", "it-site", 100.0)]
        rows = conn.execute(
            "SELECT device_id, fault_type, started_at, ended_at, energy_lost_kwh, params FROM fault_events "
            "ORDER BY started_at, device_id, fault_type").fetchall()
        beat = conn.execute("SELECT status, details FROM heartbeats WHERE component = 'producer'").fetchall()
    assert len(rows) == len(expected) == stats.fault_events
    exp = expected.sort_values(["started_at", "device_id", "fault_type"]).to_dict("records")
    for row, want in zip(rows, exp, strict=True):
        assert row[:2] == (want["device_id"], want["fault_type"])
        assert pd.Timestamp(row[2]) == want["started_at"] and pd.Timestamp(row[3]) == want["ended_at"]
        assert row[4] == pytest.approx(want["energy_lost_kwh"]) and row[5] == want["params"]
    assert beat and beat[0][0] == "stopping" and beat[0][1]["good_sent"] == stats.good_sent
    labels = (tmp_path / "labels" / "fault_events.jsonl").read_text().splitlines()
    assert len(labels) == len(expected)

    # idempotent: a second run (no checkpoint) upserts the same events, nothing duplicated
    ProducerService(config, fleet).run()
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM fault_events").fetchone() == (len(expected),)
        assert conn.execute("SELECT count(*) FROM devices").fetchone() == (2,)
    assert len((tmp_path / "labels" / "fault_events.jsonl").read_text().splitlines()) == len(expected)


def test_kill_loop_leaves_no_gap_and_only_identical_duplicates(
    broker: str, topic_names: dict[str, str], fleet_file: Path, tmp_path: Path
) -> None:
    """SIGKILL / SIGTERM the producer repeatedly: the topic holds every (device, seq) from the
    start to the end, and every re-sent message is byte-identical (the consumer's upsert absorbs it)."""
    topic = topic_names["readings"]
    ckpt = tmp_path / "ckpt.json"
    start = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)).floor("1min")
    env = {**os.environ, "HELIOS_DATA_DIR": str(tmp_path / "data")}
    cmd = _producer_cmd(broker, topic, fleet_file, ckpt, start.isoformat())
    for round_no, sig in enumerate([signal.SIGKILL, signal.SIGTERM, signal.SIGKILL]):
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
        try:
            before = ckpt.stat().st_mtime_ns if ckpt.exists() else 0
            deadline = time.monotonic() + 60
            while (not ckpt.exists() or ckpt.stat().st_mtime_ns == before) and time.monotonic() < deadline:
                time.sleep(0.1)  # wait for this run's first checkpoint
            time.sleep(0.5 + 0.3 * round_no)
            proc.send_signal(sig)
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert rc == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    final = subprocess.run([*cmd, "--max-messages", "20"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=120)
    assert final.returncode == 0, final.stderr
    seen: dict[tuple[str, int], bytes] = {}
    per_device: dict[str, set[int]] = defaultdict(set)
    for msgs in read_all(broker, topic).values():
        for key, value in msgs:
            reading = decode_reading(value, key)
            assert isinstance(reading, ReadingV1)
            ident = (reading.device_id, reading.seq)
            assert seen.setdefault(ident, value) == value  # a duplicate is an exact re-send
            per_device[reading.device_id].add(reading.seq)
    first = int(start.value // 60_000_000_000)
    assert set(per_device) == {"it-site-inv01", "it-site-inv02"}
    for seqs in per_device.values():
        assert min(seqs) == first and seqs == set(range(first, max(seqs) + 1))  # no gap
    assert max(max(s) for s in per_device.values()) - first > 40


def test_cli_replay_and_bad_traffic_to_broker(broker: str, topic_names: dict[str, str], tmp_path: Path) -> None:
    """`python -m producer replay --dataset serf-east-1min` then `bad --kind all --count 2`."""
    topic = topic_names["readings"]
    env = {**os.environ, "HELIOS_DATA_DIR": str(tmp_path / "data")}
    common = ["--bootstrap", broker, "--topic", topic, "--no-db", "--no-checkpoint", "--bad-rate", "0"]
    replay = subprocess.run([sys.executable, "-m", "producer", "replay", "--dataset", "serf-east-1min",
                             "--start", "2026-01-10", *common], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=180)
    assert replay.returncode == 0, replay.stderr
    bad = subprocess.run([sys.executable, "-m", "producer", "bad", "--kind", "all", "--count", "2", *common],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert bad.returncode == 0, bad.stderr
    messages = [m for msgs in read_all(broker, topic).values() for m in msgs]
    results = [decode_reading(v, k) for k, v in messages]
    replayed = [r for r in results if isinstance(r, ReadingV1) and r.device_id == "nrel-serf-east-inv01"]
    assert len(replayed) == 2607
    assert min(r.ts for r in replayed).date().isoformat() == "2026-01-10"
    reasons = sorted(r.reason_code for r in results if not isinstance(r, ReadingV1))
    from producer.badtraffic import REJECT_KINDS

    contract_rejects = sorted(k for k in REJECT_KINDS if k != "unknown_device") * 2
    assert reasons == sorted(contract_rejects)
    assert len(messages) == 2607 + 2 * 13


def test_cli_csv_replay_as_the_readme_prints_it_with_the_default_bad_rate(
    broker: str, topic_names: dict[str, str], tmp_path: Path
) -> None:
    """`python -m producer replay --csv f.csv --device-id D --site-id S --ts-column time --map …` without
    `--bad-rate`: the default rate (Settings.bad_message_rate) used to fail with `error: devices must not be
    empty` (a CSV replay has no fleet); the bad traffic now borrows the replayed device."""
    topic = topic_names["readings"]
    times = pd.date_range("2024-06-01T12:00Z", periods=600, freq="1min")
    csv = tmp_path / "f.csv"
    pd.DataFrame({"time": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "P_W": 5000.0, "G": 800.0}).to_csv(csv, index=False)
    env = {**os.environ, "HELIOS_DATA_DIR": str(tmp_path / "data"), "HELIOS_BAD_MESSAGE_RATE": "0.01"}
    replay = subprocess.run([sys.executable, "-m", "producer", "replay", "--csv", str(csv), "--device-id", "my-inv",
                             "--site-id", "my-site", "--ts-column", "time", "--map", "ac_power_kw=P_W*0.001",
                             "--map", "poa_w_m2=G", "--bootstrap", broker, "--topic", topic, "--no-db",
                             "--no-checkpoint"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert replay.returncode == 0, replay.stderr
    results = [decode_reading(v, k) for msgs in read_all(broker, topic).values() for k, v in msgs]
    good = [r for r in results if isinstance(r, ReadingV1) and r.device_id == "my-inv" and r.ac_power_kw == 5.0]
    assert len({r.ts for r in good}) == 600
    assert len(results) > 600  # the bad traffic went out too, built on the replayed device


def test_realtime_restart_fills_the_outage_from_its_checkpoint(
    broker: str, topic_names: dict[str, str], fleet_file: Path, tmp_path: Path
) -> None:
    fleet = load_fleet(fleet_file)
    now = pd.Timestamp.now(tz="UTC").floor("1min")
    config = RunConfig(mode="realtime", topic=topic_names["readings"], bootstrap_servers=broker, start=now,
                       speed=1.0, seed=2, checkpoint=tmp_path / "ckpt.json", max_messages=20)
    outage_start = now - pd.Timedelta(minutes=30)
    from producer.service import RunStats, write_checkpoint

    write_checkpoint(config.checkpoint, config.run_key(fleet), outage_start, RunStats())  # type: ignore[arg-type]
    stats = ProducerService(config, fleet).run()
    assert stats.good_sent == 20 and stats.first_ts == outage_start  # the outage is filled first
    first = int(outage_start.value // 60_000_000_000)
    seqs = sorted(decode_reading(v, k).seq for msgs in read_all(broker, topic_names["readings"]).values()  # type: ignore[union-attr]
                  for k, v in msgs)
    assert seqs == sorted([*range(first, first + 10)] * 2)


def test_accelerated_replay_is_paced(broker: str, topic_names: dict[str, str]) -> None:
    """--speed 300 on 1-minute data: one reading every 0.2 s of wall time (never faster)."""
    from producer.replay import load_serf, shift_to_start

    source = load_serf("serf-east-1min")
    frame = shift_to_start(source.readings, pd.Timestamp("2026-01-10T00:00Z"))
    config = RunConfig(mode="replay", topic=topic_names["readings"], bootstrap_servers=broker,
                       start=frame["ts"].min(), speed=300.0, replay_frame=frame, max_messages=11)
    began = time.monotonic()
    stats = ProducerService(config, source.fleet).run()
    elapsed = time.monotonic() - began
    assert stats.good_sent == 11
    assert (stats.last_ts - stats.first_ts) == pd.Timedelta(minutes=10)  # type: ignore[operator]
    assert elapsed >= 10 * 60 / 300 - 0.05  # 10 simulated minutes at 300x take >= 2 s
