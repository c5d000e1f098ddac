"""run_maintenance against real PostgreSQL: the long-window soiling trend runs in the runner (ADR 0270).

A real series (SERF east 15-min AC, satellite POA) with a 3-week soiling ramp injected is loaded
into the database; the runner's 28-day rollup read lets the trend find it: one soiling alert, with
``rule = long_window_trend``; with less than 21 days of history the run result says why the trend
did not run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from heliosgrid import alerts
from heliosgrid.db.connection import open_connection
from heliosgrid.fleet import sync_fleet
from heliosgrid.maintenance import injection
from heliosgrid.maintenance.realdata import RealSeries, serf_east_psm3
from heliosgrid.maintenance.runner import run_maintenance
from heliosgrid.settings import load_settings

pytestmark = pytest.mark.integration

ONSET = pd.Timestamp("2016-07-15 07:00", tz="UTC")
FIRST = ONSET - pd.Timedelta(days=10)
LAST = ONSET + pd.Timedelta(days=18)
COLUMNS = (
    "device_id", "ts", "site_id", "ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c",
    "dc_power_kw", "ac_power_kw", "inverter_status", "seq",
)  # fmt: skip


@pytest.fixture(scope="module")
def loaded(pg_db: str) -> Iterator[tuple[str, RealSeries, float]]:
    east = serf_east_psm3()
    ts = east.readings["ts"]
    context = east.readings[(ts >= FIRST) & (ts < LAST)].reset_index(drop=True)
    done = injection.soiling(context, ONSET, 900, days=21)
    done.readings["seq"] = range(len(done.readings))
    with open_connection(pg_db, autocommit=True) as conn:
        sync_fleet(conn, [east.site])
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (FIRST.to_pydatetime(), LAST.to_pydatetime()))
        frame = done.readings[list(COLUMNS)].astype(object).where(done.readings[list(COLUMNS)].notna(), None)
        with conn.cursor() as cur, cur.copy(f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in frame.itertuples(index=False):
                copy.write_row(row)
    yield pg_db, east, float(done.truth["energy_lost_kwh"])


def test_trend_needs_three_weeks_and_says_so(loaded: tuple[str, RealSeries, float]) -> None:
    url, east, _ = loaded
    day = (ONSET + pd.Timedelta(days=5)).floor("1D")
    with open_connection(url) as conn:  # rolled back
        summary = run_maintenance(conn, load_settings(), day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime())
        reason = summary["not_evaluated"][east.device.device_id]["soiling_trend"]
        assert "days of history" in reason and "needs 21" in reason
        assert pd.Timestamp(summary["read_start"]) == day + pd.Timedelta(days=1) - pd.Timedelta(days=28)
        conn.rollback()


def test_runner_raises_one_soiling_alert_from_the_trend(loaded: tuple[str, RealSeries, float]) -> None:
    url, east, truth_kwh = loaded
    day = (LAST - pd.Timedelta(days=1)).floor("1D")
    with open_connection(url, autocommit=True) as conn:
        for _ in range(2):  # idempotent: the same window twice is still one alert
            summary = run_maintenance(conn, load_settings(), day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime())
        assert "soiling_trend" not in summary["not_evaluated"].get(east.device.device_id, {})
        soiling = alerts.list_alerts(conn, fault_type="soiling", limit=10)
        assert len(soiling) == 1
        (alert,) = soiling
        assert alert.state != "resolved" and alert.device_id == east.device.device_id
        assert alert.evidence["rule"] == "long_window_trend"
        assert pd.Timestamp(alert.started_at) < ONSET + pd.Timedelta(days=7)
        assert abs(alert.energy_lost_kwh - truth_kwh) / truth_kwh < 0.5
