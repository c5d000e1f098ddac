"""The runner's long window: the clear-sky drift check against 28 days of the sensor's history (ADR 0340)."""

from __future__ import annotations

import pandas as pd
import pytest

from heliosgrid.maintenance import injection
from heliosgrid.maintenance.detectors import Finding
from heliosgrid.maintenance.engine import SiteAnalysis, analyse_site_detail
from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
from heliosgrid.maintenance.long_window import apply_long_window, clear_sky_judged, long_window_features
from heliosgrid.maintenance.realdata import RealSeries, serf_east_psm3, system15_poa
from heliosgrid.maintenance.runner import ANALYSIS_LOOKBACK
from heliosgrid.maintenance.soiling_long import TREND_LOOKBACK

DRIFT_START = pd.Timestamp("2020-07-13 07:00", tz="UTC")
RUN_END = pd.Timestamp("2020-07-22 06:00", tz="UTC")


@pytest.fixture(scope="module")
def summer() -> RealSeries:
    return system15_poa("2020-07")


def _run(series: RealSeries, readings: pd.DataFrame, end: pd.Timestamp) -> tuple[SiteAnalysis, SiteAnalysis]:
    """(7-day analysis alone, the same after the long window) for a run ending at ``end``."""
    rollup = rollup_15m(readings)
    short_start, long_start = end - ANALYSIS_LOOKBACK, end - TREND_LOOKBACK
    short = rollup[(rollup["bucket"] >= short_start) & (rollup["bucket"] < end)]
    long = rollup[(rollup["bucket"] >= long_start) & (rollup["bucket"] < end)]
    alone = analyse_site_detail(series.site, device_frames(short, series.site, bucket_grid(short_start, end)))
    merged = analyse_site_detail(series.site, device_frames(short, series.site, bucket_grid(short_start, end)))
    apply_long_window(series.site, device_frames(long, series.site, bucket_grid(long_start, end)), merged)
    return alone, merged


def _drifts(a: SiteAnalysis) -> list[str]:
    return [str(fd.evidence.get("reference")) for fd in a.findings if fd.fault_type == "irradiance_drift"]


def test_a_drift_the_seven_day_window_cannot_judge_is_found_on_the_long_window(summer: RealSeries) -> None:
    readings = summer.readings[summer.readings["ts"] < RUN_END]
    drifted = injection.irradiance_drift(readings, DRIFT_START, summer.cadence_s).readings
    alone, merged = _run(summer, drifted, RUN_END)
    dev = summer.device.device_id
    assert "warm-up" in alone.not_evaluated[dev].get("irradiance_drift", "")  # a cloudy week: not judged
    assert _drifts(alone) == []
    assert _drifts(merged) == ["clear_sky"]
    assert "irradiance_drift" not in merged.not_evaluated[dev]  # judged on the long window
    found = next(fd for fd in merged.findings if fd.fault_type == "irradiance_drift")
    # onset resolution: clear (solar) days — the episode starts after the last clear day still within bounds
    assert DRIFT_START - pd.Timedelta(days=2) <= found.started_at <= DRIFT_START + pd.Timedelta(days=3)
    assert found.evidence["ongoing"] is True


def test_the_clean_sensor_is_judged_on_the_long_window_and_not_flagged(summer: RealSeries) -> None:
    readings = summer.readings[summer.readings["ts"] < RUN_END]
    alone, merged = _run(summer, readings, RUN_END)
    dev = summer.device.device_id
    assert "warm-up" in alone.not_evaluated[dev].get("irradiance_drift", "")
    assert _drifts(merged) == []
    assert "irradiance_drift" not in merged.not_evaluated[dev]  # judged, and found healthy


def test_a_new_device_keeps_the_seven_day_verdict(summer: RealSeries) -> None:
    ts = summer.readings["ts"]
    readings = summer.readings[(ts >= RUN_END - pd.Timedelta(days=5)) & (ts < RUN_END)]
    alone, merged = _run(summer, readings, RUN_END)
    dev = summer.device.device_id
    assert merged.not_evaluated[dev].get("irradiance_drift") == alone.not_evaluated[dev].get("irradiance_drift")
    rollup = rollup_15m(readings)
    frames = device_frames(rollup, summer.site, bucket_grid(RUN_END - TREND_LOOKBACK, RUN_END))
    assert long_window_features(summer.site, frames) == {}  # 5 days: nothing the 7-day window lacks


def test_only_sensors_without_a_second_reference_are_judged_on_the_clear_sky() -> None:
    idx = pd.date_range("2024-06-01", periods=4, freq="15min", tz="UTC")
    own = pd.DataFrame({"poa_w_m2_avg": [500.0] * 4, "clearsky_poa_w_m2": [600.0] * 4}, index=idx)
    assert clear_sky_judged(own)
    assert not clear_sky_judged(own.assign(poa_ref_w_m2=[480.0] * 4))
    assert not clear_sky_judged(own.assign(poa_w_m2_avg=[float("nan")] * 4))


def test_a_soiling_ramp_that_a_cleaning_ended_is_over_not_ongoing() -> None:
    """A trend finding ended by a cleaning resolves its alert at the cleaning; a ramp still going is
    ongoing (SERF east, satellite POA, the corpus's 3-week ramp from 13 Jul 2016, cleaned 3 Aug)."""
    east = serf_east_psm3()
    onset = pd.Timestamp("2016-07-13 07:00", tz="UTC")
    ts = east.readings["ts"]
    context = east.readings[(ts >= onset - pd.Timedelta(days=10)) & (ts < onset + pd.Timedelta(days=25))]
    soiled = injection.soiling(context.reset_index(drop=True), onset, east.cadence_s).readings
    cleaned = onset + pd.Timedelta(days=21)

    def trend(end: pd.Timestamp) -> Finding:
        (found,) = [fd for fd in _run(east, soiled, end)[1].findings if fd.fault_type == "soiling"]
        return found

    going = trend(onset + pd.Timedelta(days=17))
    assert going.evidence["ongoing"] is True and "cleaned_at" not in going.evidence
    over = trend(onset + pd.Timedelta(days=24, hours=17))
    assert over.evidence["ongoing"] is False
    assert abs(pd.Timestamp(over.evidence["cleaned_at"]) - cleaned) <= pd.Timedelta(days=1) and over.ended_at <= cleaned


def test_a_cleaning_between_unclear_days_is_placed_midway_not_at_the_next_clear_day() -> None:
    """ADR 0660: the soiled loss is not counted on the unclear days between the last soiled clear day and
    the first clean one, nor left out of them: the cleaning is placed midway."""
    from heliosgrid.maintenance.detectors.soiling_trend import cleaning_time

    day = pd.Timestamp("2012-09-27", tz="UTC")
    assert cleaning_time(day, day + pd.Timedelta(days=1)) == day + pd.Timedelta(days=1)  # consecutive clear days
    assert cleaning_time(day, day + pd.Timedelta(days=5)) == day + pd.Timedelta(days=3)  # 3 unclear days between
    assert cleaning_time(day, day + pd.Timedelta(days=2)) == day + pd.Timedelta(days=1, hours=12)
