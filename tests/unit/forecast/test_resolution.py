"""Hourly and 30-min means onto the 15-min grid: energy kept, the sun's shape inside each interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heliosgrid.forecast.datasets import load_dataset
from heliosgrid.forecast.hygiene import clean_power_series
from heliosgrid.forecast.resolution import clearsky_shape, input_step, spread_to_15min
from heliosgrid.forecast.solar import ForecastInputError
from heliosgrid.forecast.synthetic import DEFAULT_SITE


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=1, max_size=72),
       step_min=st.sampled_from([30, 60]), start_h=st.integers(0, 23))
def test_each_interval_keeps_its_energy_and_none_exceeds_the_largest_mean(values: list[float | None], step_min: int,
                                                                          start_h: int) -> None:
    step = pd.Timedelta(minutes=step_min)
    idx = pd.date_range(pd.Timestamp("2024-06-01", tz="UTC") + pd.Timedelta(hours=start_h), periods=len(values),
                        freq=step)
    coarse = pd.Series([np.nan if v is None else v for v in values], index=idx, dtype=float)
    out = spread_to_15min(coarse, step, DEFAULT_SITE)
    assert out.index.freq == pd.Timedelta(minutes=15) and out.index[0] == idx[0]
    back = out.resample(step, origin="start").mean()
    cap = np.nanmax(coarse.to_numpy()) if coarse.notna().any() else np.nan
    for t, v in coarse.items():
        if np.isnan(v):
            assert out[t:t + step - pd.Timedelta(minutes=15)].isna().all()
        else:
            assert back[t] == pytest.approx(v, abs=1e-9)
    assert not (out > cap + 1e-9).any()


def test_inside_each_hour_power_follows_the_sun() -> None:
    quarter_times = pd.date_range("2024-06-21T00:00Z", periods=96, freq="15min")
    shape = clearsky_shape(DEFAULT_SITE, quarter_times + pd.Timedelta(minutes=7.5))
    truth = 0.05 * shape  # kW: a clear day at a constant clear-sky index
    hourly = pd.Series(truth.reshape(24, 4).mean(axis=1), index=quarter_times[::4])
    out = spread_to_15min(hourly, pd.Timedelta(hours=1), DEFAULT_SITE).to_numpy().reshape(24, 4)
    cap = float(hourly.max())
    under = (truth.reshape(24, 4) <= cap).all(axis=1)
    assert under.sum() >= 20 and np.allclose(out[under], truth.reshape(24, 4)[under])  # the sun's shape inside
    assert np.allclose(out[int(np.argmax(hourly.to_numpy()))], cap)  # the brightest hour is the cap: flat
    assert out.max() <= cap + 1e-9 and np.allclose(out.mean(axis=1), hourly.to_numpy())  # every hour's energy


def test_a_clipped_hour_stays_at_the_clip_level_with_its_energy() -> None:
    idx = pd.date_range("2024-06-21T16:00Z", periods=4, freq="1h")
    hourly = pd.Series([40.0, 50.0, 50.0, 45.0], index=idx)  # two hours at a 50 kW clip
    out = spread_to_15min(hourly, pd.Timedelta(hours=1), DEFAULT_SITE)
    assert out.max() <= 50.0 + 1e-9 and np.allclose(out.iloc[4:12], 50.0)
    assert np.allclose(out.resample("1h").mean().to_numpy(), hourly.to_numpy())


def test_steps_up_to_hourly_are_spread_coarser_refused() -> None:
    assert input_step(3600.0) == pd.Timedelta(hours=1) and input_step(1800.0) == pd.Timedelta(minutes=30)
    with pytest.raises(ForecastInputError, match="resolution is 180 min"):
        input_step(3 * 3600.0)


def test_hourly_means_of_a_real_plant_give_its_15_min_energy_and_clock() -> None:
    """PVDAQ 50 (spring 2012, logger on DST from 11 Mar) averaged to hourly means: the hygiene spreads them, finds
    the same DST step, and the spread day tracks the measured 15-min day."""
    ds = load_dataset("pvdaq50_spring_dst")
    raw = ds.series.copy()  # already cleaned and clock-corrected: re-apply the logger's DST to test the clock
    dst = raw.index >= pd.Timestamp("2012-03-11T09:00Z")
    raw.index = raw.index.where(~dst, raw.index + pd.Timedelta(hours=1))
    hourly = raw.resample("1h").mean()
    out, rep = clean_power_series(hourly, ds.site, ds.capacity_kw)
    assert rep.input_step_min == 60.0 and "60-min means" in rep.warnings[0]
    assert [(s.since, s.shift_min) for s in rep.clock_shifts] == [("2012-03-11", 60)]
    assert not rep.hourly_labels_at_end
    both = pd.concat([ds.series.rename("q"), out.rename("h")], axis=1).dropna()
    assert both.h.sum() == pytest.approx(both.q.sum(), rel=0.02)
    bright = both[both.q > 0.2 * ds.capacity_kw]
    assert float(np.corrcoef(bright.q, bright.h)[0, 1]) > 0.9
    # the same hours stamped at their end (PVOutput-style): read back onto the hour before, the same series
    end_stamped, rep_end = clean_power_series(hourly.set_axis(hourly.index + pd.Timedelta(hours=1)), ds.site,
                                              ds.capacity_kw)
    assert rep_end.hourly_labels_at_end and "stamped at the end of their hour" in rep_end.warnings[1]
    assert [(s.since, s.shift_min) for s in rep_end.clock_shifts] == [("2012-03-11", 60)]
    pd.testing.assert_series_equal(end_stamped, out)
