"""The live dashboard in headless Chromium (playwright-core driven by a Node script).

Checks: the page loads with data from a seeded database, the power chart renders with the
forecast band, a reading inserted after load arrives through SSE and updates the page, an
alert acknowledged in the page changes the database, the history view draws the rollups.
Screenshots: test-artifacts/dashboard-*.png.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from api_seed import Seeded, db_scalar

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("dashboard_check.cjs")
NODE_MODULES = REPO / "tools" / "pglite" / "node_modules"
LIVE_KW = 77.7


def _read_event(proc: subprocess.Popen[str]) -> dict[str, object]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        raise AssertionError(f"browser script ended early (exit {proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
    event: dict[str, object] = json.loads(line)
    if event.get("event") == "error":
        raise AssertionError(f"browser script failed: {event['message']} {event.get('pageErrors')}")
    return event


def test_dashboard_loads_updates_live_and_acknowledges(dash_api: str, dash_keys: dict[str, str], dash_seeded: Seeded) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "playwright-core").is_dir() or not Path("/usr/bin/chromium").exists():
        pytest.fail("node, tools/pglite/node_modules/playwright-core and /usr/bin/chromium are required (make setup)")
    alert_id = dash_seeded.open_alert_ids[0]
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    proc = subprocess.Popen(
        [node, str(SCRIPT), dash_api, dash_keys["write"], str(REPO / "test-artifacts"), str(alert_id), "beta-inv1", str(LIVE_KW)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        loaded = _read_event(proc)
        assert loaded["event"] == "loaded"
        assert loaded["cards"] == ["alpha", "beta"]
        assert loaded["current"] == "120.0 kW"  # 2 inverters x 60 kW, from the seeded readings
        assert "–" in str(loaded["forecast"]) and "—" not in str(loaded["forecast"])
        assert int(loaded["points"]) >= 12  # type: ignore[call-overload]
        assert loaded["band"] == 1

        with psycopg.connect(dash_seeded.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO readings (device_id, ts, site_id, poa_w_m2, ac_power_kw, dc_power_kw, inverter_status, seq) "
                "VALUES ('beta-inv1', %s, 'beta', 640, %s, 80, 'ok', 10000)",
                (dash_seeded.now, LIVE_KW),
            )
        assert proc.stdin is not None
        proc.stdin.write("inserted\n")
        proc.stdin.flush()

        live = _read_event(proc)
        assert live == {"event": "live", "card": f"{LIVE_KW:.1f} kW"}

        acked = _read_event(proc)
        assert str(acked["state"]).startswith("acknowledged by test-operator")
        assert db_scalar(dash_seeded.url, "SELECT state FROM alerts WHERE alert_id = %s", (alert_id,)) == "acknowledged"

        history = _read_event(proc)
        assert int(history["bars"]) >= 1 and int(history["kpiRows"]) >= 1  # type: ignore[call-overload]
        assert _read_event(proc)["event"] == "done"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert (REPO / "test-artifacts" / "dashboard-live.png").stat().st_size > 10_000
