"""``heliosgrid status`` against the real broker and PostgreSQL: lag, heartbeats, freshness."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from heliosgrid.broker import ensure_topics
from heliosgrid.settings import load_settings
from heliosgrid.status import collect_status, consumer_lag

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def group_with_lag(broker: str, topic_names: dict[str, str]) -> tuple[str, str]:
    """A 3-partition topic with 5 messages in partitions 0 and 1 (2 empty); the group committed 2 on
    partition 0 only. The producer batches, which Tansu's ListOffsets under-reports."""
    topic, group = topic_names["readings"], f"test-group-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker, {topic: 3})
    producer = KafkaProducer(bootstrap_servers=broker)
    for partition in (0, 1):
        for i in range(5):
            producer.send(topic, value=f"m{i}".encode(), partition=partition)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=broker, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1)})
    finally:
        consumer.close()
    return topic, group


def test_consumer_lag_per_partition(broker: str, group_with_lag: tuple[str, str]) -> None:
    topic, group = group_with_lag
    lag = consumer_lag(broker, group, topic)
    assert lag["partitions"] == [
        {"partition": 0, "end_offset": 5, "committed_offset": 2, "lag": 3},
        {"partition": 1, "end_offset": 5, "committed_offset": None, "lag": 5},
        {"partition": 2, "end_offset": 0, "committed_offset": None, "lag": 0},
    ]
    assert lag["total_lag"] == 8


def test_collect_status_reads_database_and_broker(
    broker: str, group_with_lag: tuple[str, str], pg_db: str, tmp_path: Path
) -> None:
    topic, group = group_with_lag
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg) VALUES "
                     "('ST1', 'one', 40, -105), ('ST2', 'two', 41, -104)")
        conn.execute("INSERT INTO devices (device_id, site_id, kind) VALUES ('ST1-INV1', 'ST1', 'inverter')")
        conn.execute("SELECT helios_ensure_partitions('readings', now() - interval '2 hours', now())")
        conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq) "
                     "VALUES ('ST1-INV1', now() - interval '90 seconds', 'ST1', 10.0, 1)")
        conn.execute("SELECT helios_refresh_rollups()")
        conn.execute("INSERT INTO heartbeats (component, instance, last_beat_at) "
                     "VALUES ('consumer', 'c-1', now() - interval '30 seconds')")
        conn.execute("INSERT INTO alerts (site_id, source, fault_type, severity, started_at, last_seen_at, title) "
                     "VALUES ('ST1', 'maintenance', 'inverter_trip', 'critical', now(), now(), 'trip')")

    settings = load_settings(database_url=pg_db, data_dir=tmp_path, topic_readings=topic, consumer_group=group,
                             kafka_bootstrap_servers=broker)
    report = collect_status(settings)
    data = report.as_dict()
    assert data["kafka"]["lag"]["total_lag"] == 8
    db = data["database"]
    assert [(h["component"], h["instance"]) for h in db["heartbeats"]] == [("consumer", "c-1")]
    assert 25 <= db["heartbeats"][0]["age_s"] < 120
    sites = {s["site_id"]: s for s in db["sites"]}
    assert 85 <= sites["ST1"]["age_s"] < 180 and sites["ST2"]["age_s"] is None
    rollups = {r["relation"]: r for r in db["rollups"]}
    assert rollups["readings_15m"]["newest_bucket"] is not None
    assert db["alerts_open"] == 1 and db["alerts_acknowledged"] == 0
    # nothing of the stack runs under this data dir: not ok, services named
    assert not report.ok and "consumer: not started" in data["problems"]


def test_status_cli_when_the_stack_is_down(tmp_path: Path) -> None:
    env = {**os.environ, "HELIOS_DATA_DIR": str(tmp_path), "HELIOS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
           "HELIOS_BROKER_PORT": "9", "HELIOS_DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:9/none"}
    cli = str(REPO / ".venv" / "bin" / "heliosgrid")
    out = subprocess.run([cli, "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] is False and "broker not reachable at 127.0.0.1:9" in data["problems"]
    assert "cannot connect" in data["database"]["error"] and "secret" not in out.stdout
    text = subprocess.run([cli, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 1 and "Traceback" not in text.stderr + text.stdout
    assert "broker: not started" in text.stdout
    down = subprocess.run([cli, "stack", "down"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "not running" in down.stdout


def test_stack_logs_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from heliosgrid.cli import main
    from heliosgrid.settings import get_settings

    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "consumer.log").write_text("".join(f"line {i}\n" for i in range(100)))
        assert main(["stack", "logs"]) == 0
        listing = capsys.readouterr().out
        assert f"log directory: {tmp_path / 'logs'}" in listing
        assert "consumer" in listing and "airflow-scheduler" in listing
        assert main(["stack", "logs", "consumer", "-n", "3"]) == 0
        assert capsys.readouterr().out == "line 97\nline 98\nline 99\n"
        for args, message in ((["nope"], "unknown component 'nope'"), (["producer"], "no log yet for 'producer'")):
            assert main(["stack", "logs", *args]) == 2
            err = capsys.readouterr().err
            assert message in err and "Traceback" not in err
    finally:
        get_settings.cache_clear()
