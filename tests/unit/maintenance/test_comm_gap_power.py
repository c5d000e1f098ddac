"""comm_gap: an inverter whose power meter stopped while its other readings kept coming is a gap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors import detect_comm_gap
from heliosgrid.physics import DeviceSpec

INVERTER = DeviceSpec("x-inv01", "x", "inverter", 30, 180, dc_capacity_kw=120, ac_capacity_kw=100)
STATION = DeviceSpec("x-ws01", "x", "weather_station", 30, 180)


def _frame(ac_kw: list[float], daylight: bool = True) -> pd.DataFrame:
    idx = pd.date_range("2026-06-01 08:00", periods=len(ac_kw), freq="15min", tz="UTC")
    return pd.DataFrame({"sample_count": 15.0, "nominal_samples": 15.0, "daylight": daylight,
                         "ac_power_kw_avg": ac_kw, "poa_w_m2_avg": 800.0}, index=idx)


def test_daylight_hours_without_ac_power_are_a_gap_for_the_inverter() -> None:
    nan = float("nan")
    (gap,) = detect_comm_gap(_frame([80.0] * 4 + [nan] * 20 + [80.0] * 4), INVERTER)
    assert gap.started_at == pd.Timestamp("2026-06-01 09:00", tz="UTC") and gap.evidence["duration_h"] == 5.0
    assert gap.evidence["missing_measure"] == "ac_power_kw" and "no AC power for 5 h" in gap.title
    assert gap.severity == "critical"


def test_no_gap_at_night_for_a_weather_station_or_a_device_that_never_reports_power() -> None:
    nan = float("nan")
    assert detect_comm_gap(_frame([80.0] * 4 + [nan] * 20, daylight=False), INVERTER) == []
    assert detect_comm_gap(_frame([nan] * 24), INVERTER) == []  # a POA-only logger: no power to miss
    assert detect_comm_gap(_frame([80.0] * 4 + [nan] * 20), STATION) == []
    full = _frame(list(np.full(24, 80.0)))
    assert detect_comm_gap(full, INVERTER) == []


def _days(days: int, sleeps: bool) -> pd.DataFrame:
    """``days`` days of 15-min buckets: daylight 08–16 UTC (clear-sky POA 600 W/m², 5 W/m² in the hour either side),
    night otherwise; data in every lit bucket, and at night only when the device does not sleep."""
    idx = pd.date_range("2026-06-01", periods=days * 96, freq="15min", tz="UTC")
    hour = idx.hour
    cs = np.where((hour >= 8) & (hour < 16), 600.0, np.where((hour == 7) | (hour == 16), 5.0, 0.0))
    lit = cs > 150.0
    count = np.where(cs > 0.0, 15.0, 0.0 if sleeps else 15.0)
    return pd.DataFrame({"sample_count": count, "nominal_samples": 15.0, "daylight": lit, "clearsky_poa_w_m2": cs,
                         "ac_power_kw_avg": np.where(cs > 0.0, 50.0, np.where(count > 0, 0.0, np.nan)),
                         "poa_w_m2_avg": cs, "monitored": True}, index=idx)


def test_a_logger_that_sleeps_at_night_raises_no_gap_at_night() -> None:
    """A logger powered by its inverter goes silent after sunset (the two 5-min solar-data-tools plants: a
    critical comm_gap every night, 217 in 214 days). It is judged in daylight; a gap there is still found."""
    assert detect_comm_gap(_days(7, sleeps=True), INVERTER) == []
    f = _days(7, sleeps=True)
    f.loc["2026-06-04 10:00":"2026-06-04 11:45", "sample_count"] = 0.0
    (gap,) = detect_comm_gap(f, INVERTER)
    assert gap.started_at == pd.Timestamp("2026-06-04 10:00", tz="UTC") and gap.evidence["duration_h"] == 2.0


def test_a_sleeping_logger_that_does_not_wake_is_one_gap_through_the_night() -> None:
    f = _days(7, sleeps=True)
    f.loc["2026-06-04 13:00":"2026-06-05 23:45", "sample_count"] = 0.0
    (gap,) = detect_comm_gap(f, INVERTER)
    assert gap.started_at == pd.Timestamp("2026-06-04 13:00", tz="UTC") and gap.severity == "critical"


def test_a_logger_that_reports_at_night_is_judged_at_night() -> None:
    f = _days(7, sleeps=False)
    assert detect_comm_gap(f, INVERTER) == []
    f.loc["2026-06-04 01:00":"2026-06-04 02:45", "sample_count"] = 0.0
    (gap,) = detect_comm_gap(f, INVERTER)
    assert gap.started_at == pd.Timestamp("2026-06-04 01:00", tz="UTC")


def test_a_site_wide_outage_of_sleeping_loggers_is_a_gap_though_its_sensor_is_silent_too() -> None:
    """The site's router fails: every logger, the irradiance sensor's too, falls silent at 10:00. The reference
    POA is then unknown, not dark: the gap is judged (judging only "daylight", which needs the measured POA,
    would have hidden the whole outage)."""
    f = _days(7, sleeps=True)
    f["ref_poa_w_m2"] = f["clearsky_poa_w_m2"]
    out = (f.index >= "2026-06-04 10:00") & (f.index < "2026-06-04 14:00")
    f.loc[out, "sample_count"] = 0.0
    f.loc[out, "ref_poa_w_m2"] = np.nan
    f.loc[out, "daylight"] = False
    (gap,) = detect_comm_gap(f, INVERTER)
    assert gap.started_at == pd.Timestamp("2026-06-04 10:00", tz="UTC") and gap.evidence["duration_h"] == 4.0
    # a measured dark sky (heavy overcast) is no gap for a logger that has not woken
    dull = _days(7, sleeps=True)
    dull["ref_poa_w_m2"] = dull["clearsky_poa_w_m2"]
    morning = (dull.index >= "2026-06-04 08:00") & (dull.index < "2026-06-04 10:00")
    dull.loc[morning, "sample_count"] = 0.0
    dull.loc[morning, "ref_poa_w_m2"] = 40.0
    assert detect_comm_gap(dull, INVERTER) == []
