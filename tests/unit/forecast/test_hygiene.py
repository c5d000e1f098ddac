"""Input hygiene: each problem counted and fixed; the logger clock checked against solar noon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heliosgrid.forecast.clock import daily_noon_offsets, detect_clock_shifts
from heliosgrid.forecast.datasets import load_dataset
from heliosgrid.forecast.hygiene import clean_power_series
from heliosgrid.forecast.solar import ForecastInputError
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power

CAP = 100.0


@pytest.fixture(scope="module")
def clean_series() -> pd.Series:
    return synthetic_power(30, pattern="random", seed=8)


def test_every_problem_is_counted_and_fixed(clean_series: pd.Series) -> None:
    raw = clean_series.copy()
    night = raw[raw == 0].index
    raw[night[:5]] = -0.4  # inverter tare at night
    noon = raw[raw > 0.5 * CAP].index
    raw[noon[:3]] = -1e6  # logger fill values
    raw[noon[10:12]] = CAP * 1.08  # over-sized inverter above its AC rating
    start = raw.index.get_loc(noon[40])
    raw.iloc[start : start + 8] = 42.0  # frozen logger: 2 h of one value in daylight
    gap_at = raw.index.get_loc(noon[200])
    raw = raw.drop(raw.index[gap_at : gap_at + 6])  # a 1.5 h gap in daylight
    raw = raw.drop(raw.index[2000:2010])  # 2.5 h without rows after sunset: a logger that stops at night
    raw = pd.concat([raw, raw.iloc[100:104]])  # duplicated rows
    out, rep = clean_power_series(raw, DEFAULT_SITE, CAP)
    assert rep.sentinels == 3 and rep.negative_night == 5 and rep.duplicate_timestamps == 4
    assert rep.above_nameplate == 2 and rep.flatline_intervals == 8
    assert rep.gap_intervals >= 6 + 3 + 8 and rep.longest_gap_h >= 1.5
    assert rep.night_missing_intervals >= 8  # not daylight gaps
    assert (out >= 0).all() and out.max() <= CAP * 1.08 and not out.isin([42.0]).any()
    assert rep.as_dict()["clock"] == {"corrected": False, "segments": [], "drift": None}


def test_capacity_far_above_the_data_is_warned(clean_series: pd.Series) -> None:
    _, rep = clean_power_series(clean_series, DEFAULT_SITE, 1000.0)
    assert any("never exceeded" in w for w in rep.warnings)


def test_dst_switch_is_detected_and_corrected(clean_series: pd.Series) -> None:
    raw = clean_series.copy()
    late = raw.index >= pd.Timestamp("2024-05-16", tz="UTC")
    raw.index = raw.index.where(~late, raw.index + pd.Timedelta(hours=1))  # the logger jumps to summer time
    out, rep = clean_power_series(raw, DEFAULT_SITE, CAP)
    assert [(s.shift_min, s.since) for s in rep.clock_shifts] == [(60, "2024-05-16")]
    assert rep.clock_corrected and "60 min late from 2024-05-16" in rep.warnings[0]
    assert daily_noon_offsets(out, DEFAULT_SITE).abs().max() < 20  # corrected
    assert not detect_clock_shifts(clean_series, DEFAULT_SITE)


def test_whole_series_shift_corrected_small_offsets_left(clean_series: pd.Series) -> None:
    shifted = clean_series.copy()
    shifted.index = shifted.index + pd.Timedelta(hours=2)
    assert [s.shift_min for s in detect_clock_shifts(shifted, DEFAULT_SITE)] == [120]
    slightly = clean_series.copy()
    slightly.index = slightly.index + pd.Timedelta(minutes=15)  # like an east/west array: not a clock error
    assert detect_clock_shifts(slightly, DEFAULT_SITE) == []


def test_a_dst_switch_on_a_clock_already_an_hour_off_is_corrected_whole(clean_series: pd.Series) -> None:
    """A logger in the wrong zone that also keeps DST: both periods are off against the sun, not only the step."""
    raw = clean_series.copy()
    late = raw.index >= pd.Timestamp("2024-05-16", tz="UTC")
    raw.index = raw.index + pd.Timedelta(hours=1)
    raw.index = raw.index.where(~late, raw.index + pd.Timedelta(hours=1))
    segs = detect_clock_shifts(raw, DEFAULT_SITE)
    assert [(s.shift_min, s.until) for s in segs][:1] == [(60, "2024-05-16")] and segs[-1].shift_min == 120
    out, rep = clean_power_series(raw, DEFAULT_SITE, CAP)
    assert rep.clock_corrected and daily_noon_offsets(out, DEFAULT_SITE).abs().max() < 20  # both periods


def test_days_at_zero_through_daylight_are_counted_and_said_not_removed(clean_series: pd.Series) -> None:
    raw = clean_series.copy()
    out_of_service = (raw.index >= pd.Timestamp("2024-05-10", tz="UTC")) & (raw.index < pd.Timestamp("2024-05-13", tz="UTC"))
    raw[out_of_service] = 0.0
    out, rep = clean_power_series(raw, DEFAULT_SITE, CAP)
    assert rep.dead_days == 3 and any("0 kW through the daylight of 3 day(s) from 2024-05-10 to 2024-05-12" in w
                                      for w in rep.warnings)
    assert (out[out.index.isin(raw.index[out_of_service])] == 0).all()  # kept as measured
    assert clean_power_series(clean_series, DEFAULT_SITE, CAP)[1].dead_days == 0
    a_dull_day = clean_series.copy()  # heavy overcast is not an outage: a little output remains
    a_dull_day[out_of_service] = 0.02 * CAP
    assert clean_power_series(a_dull_day, DEFAULT_SITE, CAP)[1].dead_days == 0


def test_real_logger_clock_pvdaq50_switches_to_dst_on_2012_03_11() -> None:
    ds = load_dataset("pvdaq50_spring_dst")
    assert ds.hygiene is not None
    segs = [(s.since, s.shift_min) for s in ds.hygiene.clock_shifts]
    assert segs == [("2012-03-11", 60)]
    serf = load_dataset("serf")
    assert serf.hygiene is not None and serf.hygiene.clock_shifts == [] and serf.hygiene.negative_night > 1000


def test_a_drifting_logger_clock_is_found_and_corrected() -> None:
    """A logger without time sync that falls an hour behind over four months (PVDAQ 50's real winter,
    timestamps moved later and later): no whole-hour step to find, so the steady drift is fitted from solar
    noon, reported with its rate and corrected to within the midpoint's own seasonal wander."""
    from heliosgrid.forecast.clock import MIN_DRIFT_MIN, detect_clock_drift

    ds = load_dataset("pvdaq50_winter")
    s = ds.series.dropna()
    frac = np.asarray((s.index - s.index[0]) / (s.index[-1] - s.index[0]), dtype=float)
    drifted = pd.Series(s.to_numpy(), index=s.index + pd.to_timedelta(frac * 60.0, unit="min"))
    out, rep = clean_power_series(drifted, ds.site)
    assert rep.clock_shifts == [] and rep.clock_drift is not None and rep.clock_corrected
    assert MIN_DRIFT_MIN <= rep.clock_drift.drift_min <= 75 and rep.clock_drift.anchor == "2012-11-01"
    assert any("falls behind" in w and "timestamps corrected" in w for w in rep.warnings)
    late = daily_noon_offsets(drifted.resample("15min").mean(), ds.site).iloc[-20:].median()
    fixed = daily_noon_offsets(out, ds.site).iloc[-20:].median()
    before = daily_noon_offsets(ds.series, ds.site).iloc[-20:].median()
    assert late - before > 40 and abs(fixed - before) < 15
    assert detect_clock_drift(ds.series, ds.site) is None  # the real series itself does not drift


def test_no_drift_is_read_into_the_seasonal_wander_of_real_series() -> None:
    """PVDAQ 50 (DST corrected) and SERF: the production midpoint wanders by up to ≈ 30 min over a season,
    below the 45-min drift threshold."""
    from heliosgrid.forecast.clock import detect_clock_drift

    for name in ("pvdaq50", "pvdaq50_spring_dst", "serf"):
        ds = load_dataset(name)
        assert ds.hygiene is not None and ds.hygiene.clock_drift is None, name
        assert detect_clock_drift(ds.series, ds.site) is None, name


def test_coarse_or_empty_input_is_refused() -> None:
    idx = pd.date_range("2024-05-01", periods=200, freq="1h", tz="UTC")
    with pytest.raises(ForecastInputError, match="resolution is 120 min; the forecasts need 15-min data or interval "
                       "means of at most 60 min"):
        clean_power_series(pd.Series(1.0, index=idx[::2]), DEFAULT_SITE, CAP)
    with pytest.raises(ForecastInputError, match="fewer than 2 valid values"):
        clean_power_series(pd.Series([-1e6, np.nan], index=idx[:2]), DEFAULT_SITE, CAP)
    with pytest.raises(ForecastInputError, match="timezone-aware"):
        clean_power_series(pd.Series([1.0], index=pd.DatetimeIndex(["2024-01-01"])), DEFAULT_SITE, CAP)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-1e6, -9999.0, 0.0])),
                min_size=2, max_size=300))
def test_any_values_give_a_clean_series_or_a_clear_error(values: list[float]) -> None:
    idx = pd.date_range("2024-05-01T06:00Z", periods=len(values), freq="5min")
    try:
        out, rep = clean_power_series(pd.Series(values, index=idx), DEFAULT_SITE, CAP)
    except ForecastInputError:
        return
    assert np.isfinite(out.to_numpy()).all() and (out >= 0).all()
    assert rep.n_input == len(values)


def test_a_fragment_cut_off_by_a_long_gap_is_dropped_with_a_warning(clean_series: pd.Series) -> None:
    """A logger that sent two hours of readings months after the plant's data ended (seen on a real
    5-min inverter file): the backtest's test window must not land on it."""
    stray = clean_series.iloc[40:48].copy()
    stray.index = stray.index + pd.Timedelta(days=270)
    out, rep = clean_power_series(pd.concat([clean_series, stray]), DEFAULT_SITE, CAP)
    assert rep.isolated_intervals == 8 and out.index[-1] == clean_series.index[-1]
    assert any("isolated fragment" in w for w in rep.warnings)
    whole, rep2 = clean_power_series(clean_series, DEFAULT_SITE, CAP)
    assert rep2.isolated_intervals == 0 and len(whole) == len(out)


def test_a_logger_silent_at_night_has_no_gaps(clean_series: pd.Series) -> None:
    """Many loggers send nothing between dusk and dawn (seen on real 5-min inverter exports): those
    missing night intervals are counted apart and are no gap."""
    from heliosgrid.physics import solar_position

    elevation = solar_position(DEFAULT_SITE, pd.DatetimeIndex(clean_series.index))["apparent_elevation"].to_numpy()
    day_only = clean_series[elevation > 2.0]
    _, rep = clean_power_series(day_only, DEFAULT_SITE, CAP)
    assert rep.gap_intervals <= 30 * 2  # at most a dawn or dusk interval a day
    assert rep.longest_gap_h <= 0.5 and rep.night_missing_intervals > 30 * 30


def test_a_test_window_that_is_mostly_a_gap_is_warned(clean_series: pd.Series) -> None:
    """Ten of the last fourteen days missing: the backtest still runs, and says its scores rest on little."""
    from heliosgrid.forecast.backtest import run_backtest

    end = clean_series.index[-1]
    holed = clean_series[(clean_series.index < end - pd.Timedelta(days=12)) | (clean_series.index > end - pd.Timedelta(days=2))]
    series, rep = clean_power_series(holed, DEFAULT_SITE, CAP)
    run_backtest(series, DEFAULT_SITE, CAP, models=["persistence"], test_days=14, online_bands=False, hygiene=rep)
    assert any("data for" in w and "of its daylight intervals" in w for w in rep.warnings)
    _, whole = clean_power_series(clean_series, DEFAULT_SITE, CAP)
    run_backtest(clean_series, DEFAULT_SITE, CAP, models=["persistence"], test_days=14, online_bands=False, hygiene=whole)
    assert not any("daylight intervals" in w for w in whole.warnings)


def test_power_in_watts_or_megawatts_given_as_kilowatts_is_a_clear_error(clean_series: pd.Series) -> None:
    """A CSV in W (or MW) read as kW: the values are not 'sentinels' to drop (or a dead plant), the unit is
    wrong — say so. Before, MW read as kW against a 20 MW nameplate failed inside Prophet ("needs at least
    20 daylight intervals of history")."""
    with pytest.raises(ForecastInputError, match=r"probably in W, not kW \(give --power-unit W\)"):
        clean_power_series(clean_series * 1000.0, DEFAULT_SITE, CAP)
    with pytest.raises(ForecastInputError, match=r"probably in MW, not kW \(give --power-unit MW\)"):
        clean_power_series(clean_series / 1000.0, DEFAULT_SITE, CAP)  # a plant's MW read as kW
    spiked = clean_series.copy()
    spiked.iloc[[500, 900, 1300]] = 1e6  # a few logger fill values are still sentinels
    _, rep = clean_power_series(spiked, DEFAULT_SITE, CAP)
    assert rep.sentinels == 3


def test_generation_reported_as_negative_export_is_a_clear_error(clean_series: pd.Series) -> None:
    """A meter that books generation as negative: not thousands of 'negative daylight values' set to 0."""
    with pytest.raises(ForecastInputError, match="opposite sign"):
        clean_power_series(-clean_series, DEFAULT_SITE, CAP)
    tare = clean_series.copy()
    tare[tare == 0] = -0.3  # an inverter's night tare stays a count, not an error
    _, rep = clean_power_series(tare, DEFAULT_SITE, CAP)
    assert rep.negative_night > 100


def test_standby_draw_all_day_is_no_production_not_a_sign_error(clean_series: pd.Series) -> None:
    """An inverter that produced nothing (off, snow-covered) logs its standby draw day and night, as PVDAQ
    system 1276 did on 2019-01-01 (−100/−200 W every 15 min): negating that would invent production."""
    standby = pd.Series(np.where(np.arange(len(clean_series)) % 2, -0.1, -0.2), index=clean_series.index)
    with pytest.raises(ForecastInputError, match="no production, only the inverter's standby draw") as err:
        clean_power_series(standby, DEFAULT_SITE, CAP)
    assert "opposite sign" not in str(err.value)
    with pytest.raises(ForecastInputError, match="standby draw"):  # no capacity: judged against the night's draw
        clean_power_series(standby, DEFAULT_SITE)
    with pytest.raises(ForecastInputError, match="opposite sign"):
        clean_power_series(-clean_series, DEFAULT_SITE)  # no night draw to compare with


def test_a_wrong_longitude_sign_or_time_zone_is_a_clear_error(clean_series: pd.Series) -> None:
    """Production hours away from the sun at the given place: the longitude's sign or the timestamps'
    zone is wrong (naive UTC read as local time). The noon-offset clock check wraps around midnight
    there; the profile lag does not."""
    from heliosgrid.forecast.clock import profile_lag_min
    from heliosgrid.forecast.datasets import site_with_capacity
    from heliosgrid.forecast.solar import site_from_capacity

    east = site_from_capacity("x", DEFAULT_SITE.latitude_deg, 120.0, CAP, timezone="UTC")  # the data is at 2.4° W
    with pytest.raises(ForecastInputError, match=r"longitude \(east positive, west negative\)"):
        clean_power_series(clean_series, east, CAP)
    late = clean_series.copy()
    late.index = late.index + pd.Timedelta(hours=7)
    with pytest.raises(ForecastInputError, match=r"7\.0 h behind the sun"):
        clean_power_series(late, DEFAULT_SITE, CAP)
    assert abs(profile_lag_min(clean_series, site_with_capacity(DEFAULT_SITE, CAP)) or 0.0) <= 30
    for name in ("serf", "pvdaq50_spring_dst"):  # real series, DST logger included: well inside 3 h
        ds = load_dataset(name)
        assert abs(profile_lag_min(ds.series, ds.site) or 0.0) <= 60, name


def test_a_west_facing_wall_is_not_taken_for_a_wrong_location() -> None:
    """Clear-sky POA of a vertical west-facing wall peaks hours after noon: inside the location check."""
    import pvlib

    from heliosgrid.forecast.clock import MAX_PROFILE_LAG_MIN, profile_lag_min
    from heliosgrid.forecast.solar import site_from_capacity

    times = pd.date_range("2024-03-01", "2024-04-01", freq="15min", tz="UTC")
    loc = pvlib.location.Location(37.0, -122.0)
    sun = loc.get_solarposition(times)
    cs = loc.get_clearsky(times, solar_position=sun)
    poa = pvlib.irradiance.get_total_irradiance(90, 270, sun["apparent_zenith"], sun["azimuth"], cs["dni"], cs["ghi"], cs["dhi"])
    series = pd.Series(poa["poa_global"].clip(lower=0).to_numpy() / 100.0, index=times)
    lag = profile_lag_min(series, site_from_capacity("wall", 37.0, -122.0, 10.0, timezone="UTC"))
    assert lag is not None and 90 <= lag <= MAX_PROFILE_LAG_MIN - 60  # late, with room for a DST hour


@pytest.mark.parametrize(
    ("lag_min", "longitude_deg", "hint"),
    [
        (-420.0, -105.2, "--tz Etc/GMT+7 for local standard time"),  # Golden's local times read as UTC
        (-408.0, -122.0, "--tz Etc/GMT+8 for local standard time"),  # the same, half the days in DST
        (-340.0, -105.2, "--tz Etc/GMT+7 for local standard time"),  # within 1.5 h of it
        (420.0, -105.2, "if so, give --tz UTC"),  # UTC times read as Denver's
        (-120.0 * 4, 120.0, "if so, give --tz UTC"),  # east of Greenwich the signs turn
        (250.0, -105.2, None),  # no zone mistake gives this lag here: only the general advice
    ],
)
def test_a_series_off_the_sun_by_a_zone_mistake_is_told_which_tz_to_give(
    lag_min: float, longitude_deg: float, hint: str | None
) -> None:
    from heliosgrid.forecast.clock import off_the_sun

    text = off_the_sun("the production", lag_min, 39.7, longitude_deg)
    assert text.startswith(f"the production runs {abs(lag_min) / 60:.1f} h")
    assert "check the longitude (east positive, west negative)" in text  # a wrong longitude gives such lags too
    if hint is None:
        assert "That lag is" not in text
    else:
        assert hint in text


def test_a_dst_switch_a_few_days_from_either_end_of_the_file_is_placed_on_its_day(clean_series: pd.Series) -> None:
    """ruptures places no change within 10 days of the series' ends: a file that starts 6 days before the
    logger's switch to summer time had those 6 days moved by an hour with the rest (the 7 kW plant's Pacific
    file from 5 Mar 2016, switch on 13 Mar), and one that ends 5 days after the switch back the same."""
    day0 = clean_series.index[0].normalize()
    switch = day0 + pd.Timedelta(days=6)
    starts_late = clean_series.copy()
    starts_late.index = starts_late.index.where(starts_late.index < switch, starts_late.index + pd.Timedelta(hours=1))
    (segment,) = detect_clock_shifts(starts_late, DEFAULT_SITE)
    assert (segment.since, segment.shift_min) == (switch.date().isoformat(), 60)
    back = clean_series.index[-1].normalize() - pd.Timedelta(days=4)
    ends_back = clean_series.copy()
    ends_back.index = ends_back.index.where(ends_back.index >= back, ends_back.index + pd.Timedelta(hours=1))
    (segment,) = detect_clock_shifts(ends_back, DEFAULT_SITE)
    assert (segment.until, segment.shift_min) == (back.date().isoformat(), 60)


def test_means_read_at_the_quarters_midpoints_are_said_in_a_warning() -> None:
    """10-min means, and 15-min means stamped at :05, are read at the quarters' midpoints (ADR 0690) and the
    report says so; 15-min means on the quarter hours and 5-min means are averaged without a word."""
    from heliosgrid.forecast.synthetic import synthetic_power

    five = synthetic_power(12, pattern="random", seed=3)
    five = five.resample("5min").interpolate()
    cases = {"10min": five.resample("10min").mean(), "15 at :05": five.resample("15min", offset="5min").mean(),
             "15min": five.resample("15min").mean(), "5min": five}
    said = {name: any("read at its midpoint" in w for w in clean_power_series(s, DEFAULT_SITE, CAP)[1].warnings)
            for name, s in cases.items()}
    assert said == {"10min": True, "15 at :05": True, "15min": False, "5min": False}
