"""The real `heliosgrid stack up` → status → down, on free ports, a throwaway data directory and
its own database (about 60-90 s: marked slow)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from heliosgrid.stack.process import pid_alive
from tests.helpers import db_url, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]
CLI = str(REPO / ".venv" / "bin" / "heliosgrid")


@pytest.fixture
def stack_env(tmp_path: Path, pg_server_url: str) -> Iterator[dict[str, str]]:
    name = f"helios_test_stack_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELIOS_", "AIRFLOW"))}
    env.update({
        "HELIOS_DATA_DIR": str(tmp_path / "helios"), "HELIOS_LOCAL_DATABASE_NAME": name,
        "HELIOS_BROKER_PORT": str(free_port()), "HELIOS_API_PORT": str(free_port()),
        "HELIOS_AIRFLOW_PORT": str(free_port()), "HELIOS_DEMO_BACKFILL_DAYS": "3",
        "HELIOS_CONSUMER_METRICS_PORT": str(free_port()),
    })
    yield env
    subprocess.run([CLI, "stack", "down"], env=env, capture_output=True, timeout=180, cwd=REPO)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for db in (name, f"{name}_airflow"):
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def run(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_make_up_runs_the_whole_stack_and_down_stops_it(stack_env: dict[str, str], pg_server_url: str) -> None:
    up = run(stack_env, "stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "the HeliosGrid stack is up" in up.stdout and "Airflow UI" in up.stdout and "/#key=hg_" in up.stdout
    assert "?key=" not in up.stdout  # a long-lived key never in a URL the server sees
    run_dir = Path(stack_env["HELIOS_DATA_DIR"]) / "run"
    pids = {p.stem: int(p.read_text()) for p in run_dir.glob("*.pid")}
    assert set(pids) == {"broker", "consumer", "producer", "api", "airflow-api-server", "airflow-scheduler",
                         "airflow-dag-processor"}

    # rows arrive (3-day backfill) and the rollups fill
    url = db_url(pg_server_url, stack_env["HELIOS_LOCAL_DATABASE_NAME"])
    deadline, readings, rollups = time.monotonic() + 120, 0, 0
    while time.monotonic() < deadline and not (readings > 1000 and rollups > 0):
        with psycopg.connect(url) as conn:
            readings = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
            rollups = conn.execute("SELECT count(*) FROM readings_15m").fetchone()[0]  # type: ignore[index]
        time.sleep(2)
    assert readings > 1000 and rollups > 0

    # Right after start the first DAG runs saturate a 2-core machine: allow a few status rounds.
    deadline = time.monotonic() + 90
    while True:
        status = run(stack_env, "status", "--json", timeout=120)
        report = json.loads(status.stdout)
        if (status.returncode == 0 and report["ok"]) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert status.returncode == 0 and report["ok"], report["problems"]
    assert {s["site_id"] for s in report["database"]["sites"]} and report["kafka"]["lag"]["partitions"]
    key = (Path(stack_env["HELIOS_DATA_DIR"]) / "demo-api-key").read_text().strip()
    req = urllib.request.Request(f"http://127.0.0.1:{stack_env['HELIOS_API_PORT']}/v1/sites",
                                 headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200 and json.load(resp)["items"]

    again = run(stack_env, "stack", "up")
    assert again.returncode == 0 and "already running" in again.stdout

    down = run(stack_env, "stack", "down", timeout=180)
    assert down.returncode == 0 and "stopped the HeliosGrid stack" in down.stdout
    assert not any(pid_alive(pid) for pid in pids.values())
    after = run(stack_env, "status", timeout=120)
    assert after.returncode == 1 and "Traceback" not in after.stdout + after.stderr
