"""The dashboard's "Detector coverage" panel in headless Chromium (playwright-core, Node): per site
"soiling: not evaluated — <reason>" from /v1/maintenance/coverage (heliosgrid/api/static/coverage.js)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from api_seed import Seeded

from heliosgrid.coverage import record_coverage
from heliosgrid.db.connection import open_connection

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("coverage_check.cjs")
NODE_MODULES = REPO / "tools" / "pglite" / "node_modules"
WHY = "the model ratio scatters by 16 % on clear buckets (> 6 %)"


def test_coverage_panel_shows_not_evaluated_reasons(dash_api: str, dash_keys: dict[str, str], dash_seeded: Seeded) -> None:
    now = dash_seeded.now
    with open_connection(dash_seeded.url, autocommit=True) as conn:
        record_coverage(conn, {"sites": ["alpha", "beta"], "window_start": (now - timedelta(hours=1)).isoformat(),
                               "window_end": now.isoformat(), "not_evaluated": {"alpha-inv2": {"soiling": WHY}}})
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "playwright-core").is_dir() or not Path("/usr/bin/chromium").exists():
        pytest.fail("node, tools/pglite/node_modules/playwright-core and /usr/bin/chromium are required (make setup)")
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    proc = subprocess.run([node, str(SCRIPT), dash_api, dash_keys["read"]], capture_output=True, text=True, env=env,
                          timeout=120)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 0 and not [e for e in events if e["event"] == "error"], events or proc.stderr
    coverage, done = events
    assert coverage["visible"] is True and coverage["emptyHidden"] is True
    assert coverage["sites"] == [["alpha", "1"], ["beta", "0"]]
    assert coverage["items"] == [["alpha-inv2", "soiling", f"soiling not evaluated — {WHY} (alpha-inv2)"]]
    assert coverage["allGood"] == ["every detector evaluated"]
    assert done == {"event": "done"}
