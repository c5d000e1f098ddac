"""run_maintenance against real PostgreSQL: simulated readings with a planted trip → alert lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from heliosgrid import alerts
from heliosgrid.db.connection import open_connection
from heliosgrid.fleet import sync_fleet
from heliosgrid.maintenance.runner import run_maintenance
from heliosgrid.physics import demo_fleet
from heliosgrid.settings import load_settings
from heliosgrid.simulation import FaultSpec, simulate_fleet

pytestmark = pytest.mark.integration

START = pd.Timestamp("2026-05-10", tz="UTC")
END = START + pd.Timedelta(days=3)
TRIP = FaultSpec(
    "us-golden-inv01", "inverter_trip", START + pd.Timedelta(days=2, hours=16), START + pd.Timedelta(days=2, hours=19)
)
COLUMNS = (
    "device_id", "ts", "site_id", "ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c",
    "dc_power_kw", "ac_power_kw", "inverter_status", "seq",
)  # fmt: skip


@pytest.fixture(scope="module")
def loaded(pg_db: str) -> Iterator[tuple[str, float]]:
    site = next(s for s in demo_fleet() if s.site_id == "us-golden")
    sim = simulate_fleet([site], START, END, seed=11, faults=[TRIP], noise=None)  # exact physics: alert lifecycle
    with open_connection(pg_db, autocommit=True) as conn:
        sync_fleet(conn, [site])
        conn.execute("UPDATE sites SET tariff_per_kwh = 0.10 WHERE site_id = 'us-golden'")
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (START.to_pydatetime(), END.to_pydatetime()))
        frame = sim.readings[list(COLUMNS)].astype(object).where(sim.readings[list(COLUMNS)].notna(), None)
        with conn.cursor() as cur, cur.copy(f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in frame.itertuples(index=False):
                copy.write_row(row)
    truth = float(sim.faults.loc[0, "energy_lost_kwh"])
    yield pg_db, truth


def _trip_alerts(conn: psycopg.Connection) -> list[alerts.Alert]:
    return alerts.list_alerts(conn, device_id="us-golden-inv01", fault_type="inverter_trip", limit=10)


def test_trip_opens_then_auto_resolves_idempotently(loaded: tuple[str, float]) -> None:
    url, truth_kwh = loaded
    settings = load_settings()
    day = START + pd.Timedelta(days=2)
    with open_connection(url, autocommit=True) as conn:
        # Window ending during the trip: the alert is open.
        summary = run_maintenance(conn, settings, day.to_pydatetime(), (day + pd.Timedelta(hours=17, minutes=30)).to_pydatetime())
        assert summary["findings"].get("inverter_trip") == 1
        (open_alert,) = _trip_alerts(conn)
        assert open_alert.state == "open" and open_alert.severity == "critical"
        assert open_alert.energy_lost_kwh > 0
        # Same window again: same alert, nothing duplicated.
        run_maintenance(conn, settings, day.to_pydatetime(), (day + pd.Timedelta(hours=17, minutes=30)).to_pydatetime())
        assert [a.alert_id for a in _trip_alerts(conn)] == [open_alert.alert_id]
        # The full day: the trip is over → resolved automatically, with the whole episode's loss.
        run_maintenance(conn, settings, day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime())
        (done,) = _trip_alerts(conn)
        assert done.alert_id == open_alert.alert_id
        assert done.state == "resolved" and done.resolved_by == alerts.AUTO_RESOLVER
        assert done.energy_lost_kwh == pytest.approx(truth_kwh, rel=0.10)
        assert done.revenue_lost == pytest.approx(done.energy_lost_kwh * 0.10)
        assert 6 <= done.evidence["dead_daylight_buckets"] <= 12  # 3 h = 12 buckets, minus cloudy ones
        # Re-running the old window never reopens the resolved episode.
        run_maintenance(conn, settings, day.to_pydatetime(), (day + pd.Timedelta(hours=17, minutes=30)).to_pydatetime())
        run_maintenance(conn, settings, day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime())
        assert len(_trip_alerts(conn)) == 1
        # No other maintenance alert on the clean devices.
        others = [a for a in alerts.list_alerts(conn, source="maintenance", limit=100) if a.fault_type != "inverter_trip"]
        assert [(a.device_id, a.fault_type) for a in others if a.fault_type != "degradation"] == []


def test_no_comm_gap_before_a_device_started_reporting(loaded: tuple[str, float]) -> None:
    """Issue 11 #12: a window reaching back before the first reading ever raised back-dated comm gaps."""
    url, _ = loaded
    settings = load_settings()
    with open_connection(url) as conn:  # rolled back: the module's other tests see no change
        summary = run_maintenance(
            conn, settings, (START - pd.Timedelta(days=3)).to_pydatetime(), (START + pd.Timedelta(hours=12)).to_pydatetime()
        )
        assert summary["findings"].get("comm_gap", 0) == 0
        assert "not_evaluated" in summary
        # Commissioned two days before its first reading: the silence in between is a gap.
        conn.execute(
            "UPDATE devices SET commissioned_at = %s WHERE device_id = 'us-golden-inv02'",
            ((START - pd.Timedelta(days=2)).to_pydatetime(),),
        )
        run_maintenance(
            conn, settings, (START - pd.Timedelta(days=3)).to_pydatetime(), (START + pd.Timedelta(hours=12)).to_pydatetime()
        )
        gaps = alerts.list_alerts(conn, fault_type="comm_gap", limit=10)
        assert {a.device_id for a in gaps} == {"us-golden-inv02"}
        assert min(a.started_at for a in gaps) >= (START - pd.Timedelta(days=2)).to_pydatetime()
        conn.rollback()


def test_bad_window_is_refused(loaded: tuple[str, float]) -> None:
    url, _ = loaded
    with open_connection(url, autocommit=True) as conn, pytest.raises(ValueError, match="empty window"):
        run_maintenance(conn, load_settings(), END.to_pydatetime(), START.to_pydatetime())
    with open_connection(url, autocommit=True) as conn, pytest.raises(ValueError, match="unknown site"):
        run_maintenance(conn, load_settings(), START.to_pydatetime(), END.to_pydatetime(), site_ids=["nope"])


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELIOS_DATABASE_URL": url}
    exe = str(Path(sys.executable).with_name("heliosgrid"))
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120)


def test_cli_run_list_ack_resolve(loaded: tuple[str, float]) -> None:
    url, _ = loaded
    out = _cli(url, "maintenance", "run", "--since", START.isoformat(), "--until", END.isoformat(), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sites"] == ["us-golden"]
    listed = _cli(url, "alerts", "list", "--state", "resolved", "--json")
    assert listed.returncode == 0, listed.stderr
    trip = next(a for a in json.loads(listed.stdout) if a["fault_type"] == "inverter_trip")
    again = _cli(url, "alerts", "ack", str(trip["alert_id"]), "--by", "ops")
    assert again.returncode == 2 and "already resolved" in again.stderr and "Traceback" not in again.stderr
    bad = _cli(url, "maintenance", "run", "--since", "2026-05-10T00:00")
    assert bad.returncode == 2 and "no time zone" in bad.stderr and "Traceback" not in bad.stderr
