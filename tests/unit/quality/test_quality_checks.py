"""Unit tests of the data-quality checks on synthetic plant data with planted defects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.physics.fleet import DeviceSpec, SiteSpec, demo_fleet
from heliosgrid.quality.checks import (
    CHECK_NAMES,
    CheckResult,
    DeviceInfo,
    Thresholds,
    check_completeness,
    check_freshness,
    run_device_checks,
)
from heliosgrid.quality.synthetic import clean_readings

START = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)  # Tabernas, around solar noon
END = START + timedelta(hours=1)
SITE: SiteSpec = demo_fleet()[0]


def info(dev: DeviceSpec) -> DeviceInfo:
    return DeviceInfo.at_site(SITE, dev)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    data = clean_readings(SITE, START, END, seed=7)
    return {dev: grp.set_index("ts").drop(columns=["device_id", "site_id", "seq", "inverter_status"])
            for dev, grp in data.groupby("device_id")}


def run(dev_id: str, frame: pd.DataFrame, *, as_of: datetime = END, start: datetime = START,
        end: datetime = END) -> dict[str, CheckResult]:
    dev = next(d for d in SITE.devices if d.device_id == dev_id)
    newest = frame.index.max().to_pydatetime() if len(frame) else None
    results = run_device_checks(info(dev), frame, start, end, newest_ts=newest, as_of=as_of, freshness_sla_s=300)
    assert [r.check_name for r in results] == list(CHECK_NAMES)
    return {r.check_name: r for r in results}


def failing(results: dict[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.passed}


INV = f"{SITE.site_id}-inv01"
WS = f"{SITE.site_id}-ws01"


def test_clean_data_passes_every_check(frames: dict[str, pd.DataFrame]) -> None:
    for dev_id, frame in frames.items():
        results = run(dev_id, frame)
        assert failing(results) == set(), (dev_id, {n: r.details for n, r in results.items() if not r.passed})
    ratio = run(INV, frames[INV])["power_vs_poa"].measured_value
    assert ratio is not None and 0.75 < ratio < 0.95  # PVWatts with losses and clipping


def test_frozen_sensor_fails_only_stale_values(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[INV].copy()
    frozen = frame.index[20:32]
    frame.loc[frozen, "poa_w_m2"] = frame.loc[frozen[0], "poa_w_m2"]
    results = run(INV, frame)
    assert failing(results) == {"stale_values"}
    assert results["stale_values"].details["flagged_samples_by_column"] == {"poa_w_m2": 11}


def test_linear_stretch_fails_interpolated_not_stale(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[WS].copy()
    idx = frame.index[10:22]
    frame.loc[idx, "ghi_w_m2"] = np.linspace(frame.loc[idx[0], "ghi_w_m2"], frame.loc[idx[-1], "ghi_w_m2"] + 40, len(idx))
    assert failing(run(WS, frame)) == {"interpolated_values"}


def test_impossible_ghi_at_night_fails_qcrad_only(frames: dict[str, pd.DataFrame]) -> None:
    night_start = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)
    night = clean_readings(SITE, night_start, night_start + timedelta(minutes=30), seed=3)
    frame = night[night["device_id"] == WS].set_index("ts").drop(columns=["device_id", "site_id", "seq", "inverter_status"])
    frame.iloc[12, frame.columns.get_loc("ghi_w_m2")] = 900.0
    end = night_start + timedelta(minutes=30)
    results = run(WS, frame, start=night_start, end=end, as_of=end)
    assert failing(results) == {"ghi_qcrad_limits"}
    assert results["ghi_qcrad_limits"].measured_value == 1.0


def test_poa_above_clear_sky_fails_limit_not_outliers(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[WS].copy()
    frame.iloc[30, frame.columns.get_loc("poa_w_m2")] = 1750.0
    assert failing(run(WS, frame)) == {"poa_clearsky_limits"}


def test_power_above_capacity_fails_range(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[INV].copy()
    frame.iloc[5, frame.columns.get_loc("ac_power_kw")] = 400.0  # nameplate 250 kW
    frame.iloc[5, frame.columns.get_loc("dc_power_kw")] = 420.0
    results = run(INV, frame)
    assert "range" in failing(results)
    assert "power_vs_poa" not in failing(results)


def test_power_inconsistent_with_poa_fails_cross_check(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[INV].copy()
    frame["ac_power_kw"] *= 0.3  # a meter scaling error
    frame["dc_power_kw"] *= 0.3
    results = run(INV, frame)
    assert failing(results) == {"power_vs_poa"}
    assert results["power_vs_poa"].measured_value is not None and results["power_vs_poa"].measured_value < 0.5


def test_isolated_spikes_fail_outliers(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[WS].copy()
    col = frame.columns.get_loc("poa_w_m2")
    for i in range(2, 60, 5):  # 12 of 60 samples collapse by 40 % (plausible values, not limits)
        frame.iloc[i, col] *= 0.6
    results = run(WS, frame)
    assert failing(results) == {"outliers"}
    assert results["outliers"].details["outliers_by_column"]["poa_w_m2"] >= 8


def test_gap_fails_completeness_and_empty_window_is_not_judged(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[INV].drop(frames[INV].index[16:26])  # 10 minutes missing in the 2nd bucket
    results = run(INV, frame)
    assert failing(results) == {"completeness"}
    assert results["completeness"].measured_value == pytest.approx(5 / 15)
    empty = run(INV, frames[INV].iloc[0:0], as_of=END)
    assert failing(empty) == {"freshness", "completeness"}
    assert empty["freshness"].measured_value is None


def test_freshness_against_sla(frames: dict[str, pd.DataFrame]) -> None:
    late = run(INV, frames[INV], as_of=END + timedelta(minutes=10))
    assert failing(late) == {"freshness"}
    assert late["freshness"].measured_value == pytest.approx(660.0)


def test_thresholds_can_be_tightened(frames: dict[str, pd.DataFrame]) -> None:
    dev = next(d for d in SITE.devices if d.device_id == INV)
    results = run_device_checks(info(dev), frames[INV], START, END, newest_ts=END, as_of=END, freshness_sla_s=300,
                                thresholds=Thresholds(power_poa_ratio_min=0.95))
    assert {r.check_name for r in results if not r.passed} == {"power_vs_poa"}


DEV = DeviceInfo(device_id="d", site_id="s", kind="inverter", surface_tilt_deg=0, surface_azimuth_deg=180, dc_capacity_kw=1,
                 ac_capacity_kw=1, latitude_deg=0, longitude_deg=0, altitude_m=0)


@given(counts=st.lists(st.integers(min_value=0, max_value=20), min_size=4, max_size=4),
       minimum=st.floats(min_value=0.05, max_value=1.0))
def test_completeness_is_worst_bucket_share(counts: list[int], minimum: float) -> None:
    buckets = pd.date_range(START, periods=4, freq="15min")
    result = check_completeness(DEV, START, END, pd.Series(counts, index=buckets), minimum)
    worst = min(min(c, 15) for c in counts) / 15
    assert result.measured_value == pytest.approx(worst)
    assert result.passed == (worst >= minimum)


@given(age_s=st.floats(min_value=0, max_value=10_000), sla=st.integers(min_value=1, max_value=5000))
def test_freshness_passes_iff_age_within_sla(age_s: float, sla: int) -> None:
    newest = END - timedelta(seconds=age_s)
    result = check_freshness(DEV, START, END, newest, END, sla)
    assert result.passed == ((END - newest).total_seconds() <= sla)
    assert result.threshold == sla


def test_clipping_inverter_is_not_a_stale_sensor(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames[INV].copy()
    frame.iloc[10:40, frame.columns.get_loc("ac_power_kw")] = 250.0  # flat at the 250 kW nameplate
    assert failing(run(INV, frame)) == set()
    frame.iloc[10:40, frame.columns.get_loc("ac_power_kw")] = 180.0  # flat well below it: frozen meter
    assert failing(run(INV, frame)) == {"stale_values"}
