"""Irradiance drift against the clear sky and long-window soiling, on real series (issue 14)."""

from __future__ import annotations

import pandas as pd
import pytest

from heliosgrid.maintenance import injection
from heliosgrid.maintenance.detectors import clearsky_drift
from heliosgrid.maintenance.detectors.clearsky_drift import clear_days, detect_clearsky_drift, warmup_reason
from heliosgrid.maintenance.detectors.soiling_trend import detect_soiling_trend
from heliosgrid.maintenance.expected import site_features
from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
from heliosgrid.maintenance.realdata import RealSeries, serf_east_psm3, system15_poa


def _features(series: RealSeries, readings: pd.DataFrame) -> pd.DataFrame:
    rollup = rollup_15m(readings)
    grid = bucket_grid(rollup["bucket"].min(), rollup["bucket"].max() + pd.Timedelta(minutes=15))
    return site_features(series.site, device_frames(rollup, series.site, grid), {})[series.device.device_id]


@pytest.fixture(scope="module")
def autumn() -> RealSeries:
    return system15_poa("2021-10")


def _window(series: RealSeries, start: str, days: int) -> pd.DataFrame:
    t0 = pd.Timestamp(start, tz="UTC")
    ts = series.readings["ts"]
    return series.readings[(ts >= t0) & (ts < t0 + pd.Timedelta(days=days))].reset_index(drop=True)


def test_the_poa_only_station_is_real_sensor_data(autumn: RealSeries) -> None:
    r = autumn.readings
    assert autumn.days > 59 and autumn.sensors == ("poa",)
    assert r["ac_power_kw"].isna().all() and r["poa_w_m2"].max() <= 1500.0
    assert r["poa_w_m2"].quantile(0.99) > 700.0  # a lit POA sensor, not zeros


def test_clear_days_are_found_and_overcast_days_are_not(autumn: RealSeries) -> None:
    days = clear_days(_features(autumn, autumn.readings))
    assert 20 <= len(days.a) <= 50  # of 60 autumn days in Golden
    assert days.a.between(0.8, 1.6).all()  # bright days only (overcast days scatter far lower)


def test_a_healthy_sensor_raises_no_clear_sky_drift_in_an_analysis_window(autumn: RealSeries) -> None:
    f = _features(autumn, _window(autumn, "2021-10-20", 8))
    assert detect_clearsky_drift(f, autumn.device) == []


def test_a_two_percent_per_day_drift_is_found_against_the_clear_sky(autumn: RealSeries) -> None:
    readings = _window(autumn, "2021-10-27", 17)
    start = pd.Timestamp("2021-11-05 07:00", tz="UTC")
    f = _features(autumn, injection.irradiance_drift(readings, start, 900).readings)
    window = f[f.index >= start - pd.Timedelta(days=2)]
    found = detect_clearsky_drift(window, autumn.device)
    assert len(found) == 1
    assert found[0].evidence["reference"] == "clear_sky" and found[0].detected_at > start
    clean = _features(autumn, readings)
    assert detect_clearsky_drift(clean[clean.index >= start - pd.Timedelta(days=2)], autumn.device) == []


def test_a_drifted_clear_day_does_not_become_the_next_days_reference() -> None:
    """System 15, summer 2020, drift from 2020-08-09: the first clear days after it (08-13, 08-14) are both
    beyond the threshold. With 08-13 in 08-14's baseline the scatter, and with it the threshold, had grown past
    08-14's deviation, so no two consecutive days were ever flagged and the drift went unreported."""
    summer = system15_poa("2020-07")
    start = pd.Timestamp("2020-08-09 07:00", tz="UTC")
    readings = _window(summer, "2020-07-20", 26)
    f = _features(summer, injection.irradiance_drift(readings, start, 900).readings)
    table = clearsky_drift.judged_days(f)
    after = table[table.index > start]
    assert after["flagged"].iloc[:2].all()  # the two clear days after the onset
    found = detect_clearsky_drift(f, summer.device, trend_rule=False)
    assert len(found) == 1 and found[0].detected_at > start
    assert detect_clearsky_drift(_features(summer, readings), summer.device, trend_rule=False) == []


def test_warm_up_is_reported_until_clear_days_exist(autumn: RealSeries) -> None:
    f = _features(autumn, _window(autumn, "2021-10-03", 2))
    assert "warm-up" in (warmup_reason(f) or "")
    assert clearsky_drift.MIN_BASELINE_DAYS == 2


@pytest.fixture(scope="module")
def east() -> RealSeries:
    return serf_east_psm3()


def test_long_window_soiling_ramp_is_found_and_its_energy_estimated(east: RealSeries) -> None:
    onset = pd.Timestamp("2016-07-15 07:00", tz="UTC")
    ts = east.readings["ts"]
    context = east.readings[(ts >= onset - pd.Timedelta(days=10)) & (ts < onset + pd.Timedelta(days=18))]
    done = injection.soiling(context.reset_index(drop=True), onset, 900, days=21)
    found = detect_soiling_trend(_features(east, done.readings), east.device)
    assert len(found) == 1 and found[0].fault_type == "soiling"
    assert found[0].evidence["reference"] == "clear_sky"
    assert abs(found[0].energy_lost_kwh - done.truth["energy_lost_kwh"]) / done.truth["energy_lost_kwh"] < 0.5
    assert detect_soiling_trend(_features(east, context.reset_index(drop=True)), east.device) == []


def test_soiling_trend_needs_three_weeks(east: RealSeries) -> None:
    ts = east.readings["ts"]
    short = east.readings[ts < ts.min() + pd.Timedelta(days=14)].reset_index(drop=True)
    assert detect_soiling_trend(_features(east, short), east.device) == []


def test_a_trend_whose_first_clear_days_produced_nothing_is_no_soiling(east: RealSeries) -> None:
    """Clear days of an inverter that was off (index 0) are no baseline: no finding, no division by zero."""
    import warnings

    import numpy as np

    from heliosgrid.maintenance.detectors.soiling_trend import _trend

    f = _features(east, east.readings[east.readings["ts"] < east.readings["ts"].min() + pd.Timedelta(days=30)])
    days = clear_days(f, by="power")
    b = days.b.dropna().copy()
    b.iloc[:10] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert _trend(f, east.device, days, b) == []
    assert np.isfinite(b.iloc[10:]).all()
