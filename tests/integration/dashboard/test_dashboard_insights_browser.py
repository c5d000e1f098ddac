"""The dashboard's Performance and Data quality views in headless Chromium (playwright-core, Node).

The views read /v1/insights (heliosgrid/api/routers/insights.py) over the seeded database; the
figures shown are checked against the database. Screenshots of both views are written to docs/
(docs/dashboard-performance.png, docs/dashboard-quality.png) as the picture of the Power BI pages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from api_seed import Seeded, db_scalar

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("insights_check.cjs")
NODE_MODULES = REPO / "tools" / "pglite" / "node_modules"


def _run_browser(base: str, key: str, out_dir: Path) -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "playwright-core").is_dir() or not Path("/usr/bin/chromium").exists():
        pytest.fail("node, tools/pglite/node_modules/playwright-core and /usr/bin/chromium are required (make setup)")
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    proc = subprocess.run([node, str(SCRIPT), base, key, str(out_dir)], capture_output=True, text=True, env=env, timeout=120)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    errors = [e for e in events if e.get("event") == "error"]
    assert not errors and proc.returncode == 0, f"browser script failed: {errors or proc.stderr}"
    return events


def test_performance_and_quality_views_show_the_database_figures(
    dash_api: str, dash_keys: dict[str, str], dash_seeded: Seeded
) -> None:
    docs = REPO / "docs"
    for name in ("dashboard-performance.png", "dashboard-quality.png"):
        (docs / name).unlink(missing_ok=True)
    perf, quality, done = _run_browser(dash_api, dash_keys["read"], docs)

    assert perf["event"] == "performance" and perf["visible"] is True and perf["operatorHidden"] is True
    assert perf["sites"] == ["alpha", "beta"]
    energy = db_scalar(dash_seeded.url, "SELECT sum(energy_kwh) FROM bi.site_kpi_daily WHERE site_id = 'alpha' "
                                        "AND day > current_date - 30")
    cells = perf["siteCells"]
    assert isinstance(cells, list) and cells[0] == "Alpha Solar" and cells[1] == f"{energy:.0f}"
    assert sorted(perf["causes"]) == ["inverter_trip", "soiling", "string_outage"]  # type: ignore[arg-type]
    assert int(perf["prPoints"]) >= 1 and int(perf["yieldBars"]) >= 1  # type: ignore[call-overload]

    assert quality["event"] == "quality" and quality["performanceHidden"] is True
    assert quality["freshness"] == ["alpha", "beta"]
    assert quality["checks"] == [["completeness", "100.0 %"], ["range_ac_power", "50.0 %"]]
    assert quality["sites"] == ["alpha", "beta"]
    assert done == {"event": "done"}
    for name in ("dashboard-performance.png", "dashboard-quality.png"):
        assert (docs / name).stat().st_size > 20_000, name
