"""Spec validation, process identity and the HeliosGrid component list (no services needed)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from heliosgrid.cli.status import render_text
from heliosgrid.settings import load_settings
from heliosgrid.stack import ComponentSpec, ProcessRef, Supervisor
from heliosgrid.stack.components import airflow_metadata_db_name, heliosgrid_specs, sqlalchemy_url
from heliosgrid.stack.process import pid_alive, process_start_ticks
from heliosgrid.stack.spec import validate_specs


def test_validate_rejects_duplicates_forward_dependencies_and_bad_names() -> None:
    ok = ComponentSpec(name="a", argv=["true"])
    with pytest.raises(ValueError, match="declared twice"):
        validate_specs([ok, ok])
    with pytest.raises(ValueError, match="not declared before it"):
        validate_specs([ComponentSpec(name="b", argv=["true"], depends_on=("a",)), ok])
    with pytest.raises(ValueError, match="letters, digits"):
        validate_specs([ComponentSpec(name="../etc", argv=["true"])])
    with pytest.raises(ValueError, match="needs argv"):
        validate_specs([ComponentSpec(name="c", kind="task")])
    with pytest.raises(ValueError, match="needs run"):
        validate_specs([ComponentSpec(name="d", kind="inline")])
    validate_specs([ok, ComponentSpec(name="b", argv=["true"], depends_on=("a",))])


def test_heliosgrid_stack_order_and_ports_follow_settings() -> None:
    settings = load_settings(broker_port=29092, api_port=28080, airflow_port=28793)
    specs = heliosgrid_specs(settings)
    assert [s.name for s in specs] == [
        "broker", "database", "migrate", "fleet-sync", "consumer", "producer", "api",
        "airflow-setup", "airflow-db", "airflow-pool", "airflow-api-server", "airflow-scheduler",
        "airflow-dag-processor",
    ]
    validate_specs(specs)
    by_name = {s.name: s for s in specs}
    assert by_name["broker"].health is not None and "29092" in by_name["broker"].health.describe()
    assert "28080" in by_name["api"].health.describe()  # type: ignore[union-attr]
    assert "28793" in by_name["airflow-api-server"].health.describe()  # type: ignore[union-attr]


def test_airflow_metadata_url_and_name() -> None:
    assert airflow_metadata_db_name(load_settings()) == "airflow"
    assert airflow_metadata_db_name(load_settings(local_database_name="helios_stack_check")) == "helios_stack_check_airflow"
    assert sqlalchemy_url("postgresql://postgres@127.0.0.1:5432/heliosgrid", "airflow") == (
        "postgresql+psycopg://postgres@127.0.0.1:5432/airflow"
    )
    assert sqlalchemy_url("postgresql://postgres:@/postgres?host=/x/pgdata", "airflow") == (
        "postgresql+psycopg://postgres:@/airflow?host=/x/pgdata"
    )


def test_process_identity_guards_against_pid_reuse() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        ticks = process_start_ticks(proc.pid)
        assert ticks is not None and pid_alive(proc.pid, ticks)
        # A record with another start time is somebody else's process: never signalled.
        stranger = ProcessRef(pid=proc.pid, start_ticks=ticks + 1)
        assert not stranger.alive()
        assert stranger.stop(timeout_s=1) == "not running"
        time.sleep(0.2)
        assert proc.poll() is None
        assert ProcessRef(pid=proc.pid, start_ticks=ticks).stop(timeout_s=5) == "stopped"
        # stop() reaped our child itself, so only liveness can be checked here
        assert not pid_alive(proc.pid) and process_start_ticks(proc.pid) is None
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored() -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    ref = ProcessRef(pid=proc.pid, start_ticks=process_start_ticks(proc.pid))
    assert ref.stop(timeout_s=0.5) == "killed"
    assert not pid_alive(proc.pid) and process_start_ticks(proc.pid) is None


def test_status_of_a_stack_that_never_started(tmp_path: Path) -> None:
    sup = Supervisor([ComponentSpec(name="web", argv=["true"])], tmp_path, echo=lambda _l: None)
    [status] = sup.component_status()
    assert (status.state, status.pid, status.healthy) == ("not started", None, None)
    assert sup.down() == []


def test_render_text_names_problems_and_lag() -> None:
    report = {
        "ok": False, "problems": ["consumer: stopped"],
        "components": [{"name": "consumer", "kind": "service", "state": "stopped", "pid": 12, "healthy": False,
                        "reason": "process not running", "log_file": "x", "started_at": None}],
        "kafka": {"bootstrap": "127.0.0.1:1", "lag": {"group": "g", "topic": "t", "total_lag": 7, "partitions": [
            {"partition": 0, "end_offset": 10, "committed_offset": 3, "lag": 7}]}},
        "database": {"url": "postgresql://u:***@h/db", "heartbeats": [
            {"component": "consumer", "instance": "old", "status": "ok", "last_beat_at": None, "age_s": 4000.0},
            {"component": "consumer", "instance": "new", "status": "ok", "last_beat_at": None, "age_s": 5.0},
            {"component": "producer", "instance": "only", "status": "stopping", "last_beat_at": None, "age_s": 9000.0},
        ], "sites": [
            {"site_id": "S1", "newest_reading_at": None, "age_s": 30.0}],
            "rollups": [{"relation": "readings_15m", "newest_bucket": None, "age_s": None}],
            "alerts_open": 2, "alerts_acknowledged": 1},
    }
    text = render_text(report)
    assert "total lag 7" in text and "committed 3, lag 7" in text
    assert "consumer: stopped" in text and "UNHEALTHY" in text
    assert "S1" in text and "30 s ago" in text and "2 open, 1 acknowledged" in text
    assert "readings_15m             never" in text
    assert "consumer/new" in text and "consumer/old" not in text and "producer/only" in text
    assert "(1 older instance(s) of restarted components hidden" in text


def test_stop_repeats_the_polite_signal_when_asked() -> None:
    """Like Airflow's scheduler: the first SIGTERM starts a graceful wait, the second ends it."""
    code = ("import signal, sys, time\n"
            "n = 0\n"
            "def h(*_):\n"
            "    global n\n"
            "    n += 1\n"
            "    if n == 2: sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, h)\n"
            "print('ready', flush=True)\n"
            "while True: time.sleep(0.05)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    ref = ProcessRef(pid=proc.pid, start_ticks=process_start_ticks(proc.pid))
    assert ref.stop(timeout_s=10, repeat_after_s=0.3) == "stopped"
    assert not pid_alive(proc.pid)
