"""Where the real-series evaluation injects faults: on producing days of the data, never on an
outage or on days the file does not hold; site-days count data, not the calendar."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.string_outage import MAX_BLIND_GAP, _open_end
from heliosgrid.maintenance.fault_plan import fault_days, local_days, plans, producing_days
from heliosgrid.maintenance.frames import BUCKET
from heliosgrid.maintenance.realdata import RealSeries, serf_west


def _with(series: RealSeries, readings: pd.DataFrame) -> RealSeries:
    return dataclasses.replace(series, readings=readings.reset_index(drop=True))


def test_an_outage_day_gets_no_fault_and_the_next_producing_day_does() -> None:
    base = serf_west()
    days = local_days(base)
    r = base.readings.copy()
    local = r["ts"].dt.tz_convert(base.site.timezone).dt.normalize()
    r.loc[local == days[1], "ac_power_kw"] = 0.0  # a storm outage on the second day
    series = _with(base, r)
    assert days[1] not in producing_days(series)
    picks, _, skipped = fault_days(series)
    assert picks == [d for d in days[2:] if d in producing_days(base)][:2] and not skipped
    starts = {start.tz_convert(base.site.timezone).normalize() for _, start, _ in plans(series).faults}
    assert days[1] not in starts


def test_a_series_without_producing_days_says_why_nothing_was_injected() -> None:
    base = serf_west()
    r = base.readings.copy()
    r["ac_power_kw"] = 0.0
    plan = plans(_with(base, r))
    assert plan.faults == []
    assert plan.skipped and "producing day" in plan.skipped[0]


def test_site_days_leave_out_the_files_long_gaps() -> None:
    base = serf_west()
    r = base.readings.copy()
    shifted = r[r["ts"] >= r["ts"].min() + pd.Timedelta(days=3)].assign(ts=lambda f: f["ts"] + pd.Timedelta(days=20))
    gappy = _with(base, pd.concat([r[r["ts"] < r["ts"].min() + pd.Timedelta(days=3)], shifted]))
    assert base.days == gappy.days  # 20 days without a reading add no site-days
    assert len(local_days(gappy)) == len(local_days(base))


def test_an_open_string_episode_stops_counting_at_a_long_data_gap() -> None:
    idx = pd.date_range("2024-06-01", periods=10 * 96, freq=BUCKET, tz="UTC")
    count = np.full(len(idx), 15.0)
    gap = (idx >= pd.Timestamp("2024-06-03", tz="UTC")) & (idx < pd.Timestamp("2024-06-03", tz="UTC") + MAX_BLIND_GAP * 3)
    count[gap] = 0.0
    f = pd.DataFrame({"sample_count": count}, index=idx)
    last = int(np.flatnonzero(idx < pd.Timestamp("2024-06-02 20:00", tz="UTC"))[-1])
    assert idx[_open_end(f, last)] == pd.Timestamp("2024-06-03", tz="UTC")
    short = f.copy()
    short.loc[gap, "sample_count"] = 15.0
    short.iloc[last + 1 : last + 40, 0] = 0.0  # a 10-h night without data is no reason to stop
    assert _open_end(short, last) == len(f)


def _tiled(base: RealSeries, copies: int) -> RealSeries:
    """``base`` repeated ``copies`` times, each copy shifted by the base's span of local days."""
    span = pd.Timedelta(days=len(local_days(base)))
    parts = [base.readings.assign(ts=base.readings["ts"] + k * span) for k in range(copies)]
    return _with(base, pd.concat(parts))


def test_a_long_series_gets_a_soiling_ramp_every_48_days_and_a_station_without_power_none() -> None:
    base = serf_west()  # 5 local days
    year = _tiled(base, 27)  # 135 days
    days = local_days(year)
    _, soil, _ = fault_days(year)
    assert soil == [days[12], days[60], days[108]]  # every season of a year-long file, not its first winter
    assert [s for t, s, _ in plans(year).faults if t == "soiling"] == [pd.Timestamp(d).tz_convert("UTC") for d in soil]
    poa_only = dataclasses.replace(year, sensors=tuple(x for x in year.sensors if x != "ac_power"))
    assert not [t for t, _, _ in plans(poa_only).faults if t == "soiling"]
