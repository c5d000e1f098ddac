"""The logger clock against the sun: a steady drift found on a month of snowy winter data, no drift read into
any month of a real plant, and a correction that moves values back in time without re-binning them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heliosgrid.forecast.clock import (
    ClockDrift,
    correct_clock_drift,
    correct_clock_shifts,
    daily_noon_offsets,
    detect_clock_drift,
    detect_clock_shifts,
)
from heliosgrid.forecast.datasets import PowerDataset, _data_file, load_pvdaq_system50
from heliosgrid.forecast.resolution import to_quarter_hours
from heliosgrid.forecast.solar import site_from_capacity


@pytest.fixture(scope="module")
def december() -> PowerDataset:
    """PVDAQ system 50 (Golden CO, 3 kW) in December 2012: short days, snow, the foothills' early sunset."""
    return load_pvdaq_system50("2012-12-01", "2013-01-01", name="december")


def _drifted(s: pd.Series, minutes: float) -> pd.Series:
    """``s`` as a logger whose clock falls ``minutes`` behind from its first to its last value writes it, on
    the 15-min grid the hygiene step bins it onto."""
    s = s.dropna()
    frac = np.asarray((s.index - s.index[0]) / (s.index[-1] - s.index[0]), dtype=float)
    moved = pd.Series(s.to_numpy(), index=s.index + pd.to_timedelta(frac * minutes, unit="min"))
    return to_quarter_hours(moved, pd.Timedelta(minutes=15))


def test_an_hour_of_drift_over_a_snowy_december_is_found(december: PowerDataset) -> None:
    """Dull and snow-covered days move the production midpoint by up to ±45 min. Before ADR 0690 the drift read
    43 min (every day fitted, the drifted stamps floored onto the grid), under the 45-min threshold, and was
    missed; through the bright days, with the stamps read at face value, it reads 61."""
    assert detect_clock_drift(december.series, december.site) is None
    found = detect_clock_drift(_drifted(december.series, 60.0), december.site)
    assert found is not None and 50.0 <= found.drift_min <= 70.0 and found.anchor == "2012-12-01"


def test_the_correction_reads_values_back_in_time_without_rebinning(december: PowerDataset) -> None:
    """Moving the stamps back and re-averaging them onto the grid put about half the values one interval
    early (error 3.1 % of capacity RMS, production midpoint 7.5 min early); interpolating between interval
    midpoints halves the error and puts the midpoint back on time."""
    true = december.series.dropna()
    days = (true.index[-1] - true.index[0]) / pd.Timedelta(days=1)
    drift = ClockDrift("2012-12-01", "2013-01-01", 60.0, round(60.0 / days, 3), "2012-12-01")
    fixed = correct_clock_drift(_drifted(true, 60.0), drift, december.site.longitude_deg)
    both = pd.concat([true, fixed], axis=1, keys=["true", "fixed"]).dropna()
    assert len(both) > 0.95 * len(true)
    rms = float(np.sqrt(((both["fixed"] - both["true"]) ** 2).mean())) / december.capacity_kw
    lag_min = float((daily_noon_offsets(fixed, december.site) - daily_noon_offsets(true, december.site)).median())
    assert rms < 0.022 and abs(lag_min) <= 4.0


def test_no_drift_is_read_into_any_month_of_a_real_plant() -> None:
    """PVDAQ 50, 2011–2013 with its DST switches undone, in 31-day windows every 15 days: the bright days'
    midpoint wanders by ≤ 32 min a month. Fitted through every day, one window (26 Mar – 25 Apr 2012) read a
    −47-min drift and would have been 'corrected'."""
    raw = pd.read_parquet(_data_file("system_50_ac_power_2_full_DST.parquet"))
    index = pd.DatetimeIndex(pd.to_datetime(raw["measured_on"], utc=True))
    power = pd.Series(raw["ac_power_2"].to_numpy(dtype=float) / 1000.0, index=index).resample("15min").mean()
    site = site_from_capacity("pvdaq-50", 39.7406, -105.1775, 3.0, surface_tilt_deg=25.0, surface_azimuth_deg=180.0)
    power = correct_clock_shifts(power, detect_clock_shifts(power, site), site.longitude_deg).dropna()
    span = pd.Timedelta(days=31)
    judged = 0
    for start in pd.date_range("2011-05-01", "2013-12-31", freq="15D", tz="UTC"):
        window = power[(power.index >= start) & (power.index < start + span)]
        if window.empty or window.index[-1] < start + span - pd.Timedelta(days=2):
            continue
        judged += 1
        assert detect_clock_drift(window, site) is None, start
    assert judged >= 60


def test_a_plant_off_for_months_has_no_clock_read_into_its_standby_noise(december: PowerDataset) -> None:
    """CityLearn's building 15 (a 5-kW home system) logged 0.01–0.02 kW at scattered hours for eleven months and
    produced in the twelfth (here every standby day has values, so a quantile of the daily peaks is a standby
    peak): the scattered values' "midpoints" read as a clock falling 162 min behind, which was
    "corrected" into the month that mattered. Days whose peak is under a tenth of a producing day's say
    nothing of the sun and are left out."""
    rng = np.random.default_rng(7)
    off = pd.date_range("2012-01-01", "2012-12-01", freq="15min", tz="UTC", inclusive="left")  # 11 months
    standby = pd.Series(0.0, index=off)
    lit = rng.random(len(off)) < 0.25
    standby[lit] = rng.uniform(0.005, 0.02, int(lit.sum()))
    series = pd.concat([standby, december.series.dropna()])
    offsets = daily_noon_offsets(series, december.site)
    assert offsets.index.min() >= pd.Timestamp("2012-11-30", tz=offsets.index.tz)  # no standby day is read
    assert detect_clock_drift(series, december.site) is None
    assert detect_clock_shifts(series, december.site) == []
