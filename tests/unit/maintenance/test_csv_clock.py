"""Logger clocks of an operator's CSV checked against the sun: a DST step or a power logger an hour
off its irradiance is moved back and said; an orientation (west-facing array) is left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from heliosgrid.maintenance.csv_clock import align_to_sun

WHERE = (39.742, -105.178, 1800.0)


def _plant(days: int, azimuth_deg: float = 180.0, start: str = "2022-03-01") -> pd.DataFrame:
    """Clear-sky 15-min readings of a 30°-tilted array: POA (W/m²), GHI (W/m²), AC ≈ 5 kW per kW/m² POA."""
    idx = pd.date_range(start, periods=days * 96, freq="15min", tz="UTC")
    loc = pvlib.location.Location(WHERE[0], WHERE[1], altitude=WHERE[2])
    centres = idx + pd.Timedelta(minutes=7.5)
    cs = loc.get_clearsky(centres)
    sp = loc.get_solarposition(centres)
    poa = pvlib.irradiance.get_total_irradiance(30.0, azimuth_deg, sp["apparent_zenith"], sp["azimuth"],
                                                cs["dni"], cs["ghi"], cs["dhi"])["poa_global"].fillna(0.0)
    frame = pd.DataFrame({"poa_w_m2": poa.to_numpy(), "ghi_w_m2": cs["ghi"].to_numpy()}, index=idx)
    frame["ac_power_kw"] = 5.0 * frame["poa_w_m2"] / 1000.0
    frame["module_temp_c"] = 10.0 + frame["poa_w_m2"] / 40.0
    return frame


def _shift(frame: pd.DataFrame, cols: list[str], minutes: int, since: str | None = None) -> pd.DataFrame:
    """``cols`` as a logger ``minutes`` late would label them (from local day ``since`` on)."""
    out = frame.copy()
    moved = frame[cols].shift(freq=pd.Timedelta(minutes=minutes)).reindex(frame.index)
    sel = np.ones(len(frame), bool) if since is None else frame.index >= pd.Timestamp(since, tz="UTC") + pd.Timedelta(hours=7)
    out.loc[sel, cols] = moved.loc[sel, cols].to_numpy()
    return out.fillna(0.0)


def _close(a: pd.Series, b: pd.Series, day_from: str) -> None:
    """Equal from ``day_from`` on, except the file's first and last hour (moved out of the file)."""
    sel = (a.index >= pd.Timestamp(day_from, tz="UTC") + pd.Timedelta(hours=1)) & (a.index < a.index[-1] - pd.Timedelta(hours=1))
    np.testing.assert_allclose(a[sel].fillna(0.0).to_numpy(), b[sel].to_numpy(), atol=1e-6)


def test_a_dst_step_in_the_power_logger_is_moved_back_and_said() -> None:
    truth = _plant(40)
    logged = _shift(truth, ["ac_power_kw", "module_temp_c"], 60, since="2022-03-21")
    frame = logged.drop(columns="ghi_w_m2")
    warnings = align_to_sun(frame, WHERE)
    assert len(warnings) == 1 and "AC power logger clock runs 60 min late from 2022-03-21" in warnings[0]
    _close(frame["ac_power_kw"], truth["ac_power_kw"], "2022-03-01")
    _close(frame["module_temp_c"], truth["module_temp_c"], "2022-03-22")  # temperatures follow the power
    pd.testing.assert_series_equal(frame["poa_w_m2"], truth["poa_w_m2"])  # the sensor's clock was right


def test_a_west_facing_array_is_an_orientation_not_a_clock() -> None:
    """Its production midpoint trails solar noon all series long, power and POA alike: nothing moves."""
    west = _plant(40, azimuth_deg=250.0).drop(columns="ghi_w_m2")
    frame = west.copy()
    assert align_to_sun(frame, WHERE) == []
    pd.testing.assert_frame_equal(frame, west)


def test_power_an_hour_off_its_ghi_is_moved_to_the_irradiance_clock() -> None:
    """Satellite GHI in UTC next to power whose zone label is off by an hour for the whole file."""
    truth = _plant(40)
    logged = _shift(truth, ["ac_power_kw"], -60).drop(columns=["poa_w_m2", "module_temp_c"])
    frame = logged.copy()
    warnings = align_to_sun(frame, WHERE)
    assert len(warnings) == 1
    assert warnings[0].startswith("AC power logger clock runs 60 min early against the GHI column over the whole file "
                                  "(2022-03-01 … 2022-04-09)")
    _close(frame["ac_power_kw"], truth["ac_power_kw"], "2022-03-01")


def test_power_and_ghi_both_an_hour_late_move_back_together() -> None:
    """A logger on daylight saving time under a fixed standard-time label, over a summer only: power and
    GHI agree with each other, but GHI (horizontal, no orientation) peaks an hour after solar noon."""
    truth = _plant(40).drop(columns=["poa_w_m2", "module_temp_c"])
    frame = _shift(truth, ["ac_power_kw", "ghi_w_m2"], 60)
    warnings = align_to_sun(frame, WHERE)
    assert len(warnings) == 2
    assert warnings[0].startswith("GHI clock runs 60 min late against the sun over the whole file")
    assert warnings[1].startswith("AC power logger clock runs 60 min late against the GHI column")
    _close(frame["ghi_w_m2"], truth["ghi_w_m2"], "2022-03-01")
    _close(frame["ac_power_kw"], truth["ac_power_kw"], "2022-03-01")


@pytest.mark.parametrize("minutes", [0, 30])
def test_a_ghi_within_half_an_hour_of_solar_noon_is_not_moved(minutes: int) -> None:
    """Interval labels and instants (satellite GHI stamped at the interval's start) move the midpoint by
    minutes, not hours: nothing is corrected."""
    truth = _plant(40).drop(columns=["poa_w_m2", "module_temp_c"])
    logged = _shift(truth, ["ac_power_kw", "ghi_w_m2"], minutes)
    frame = logged.copy()
    assert align_to_sun(frame, WHERE) == []
    pd.testing.assert_frame_equal(frame, logged)


@pytest.mark.parametrize("days", [3, 9])
def test_too_few_days_to_judge_a_clock_leave_the_file_as_it_is(days: int) -> None:
    logged = _shift(_plant(days), ["ac_power_kw"], 60, since="2022-03-02").drop(columns="ghi_w_m2")
    frame = logged.copy()
    assert align_to_sun(frame, WHERE) == []
    pd.testing.assert_frame_equal(frame, logged)


def test_one_loggers_step_is_dated_by_the_irradiance() -> None:
    from heliosgrid.forecast.hygiene import ClockSegment
    from heliosgrid.maintenance.csv_clock import shared_steps

    light = [ClockSegment("2012-03-11", "2012-07-01", -60)]
    power = [ClockSegment("2012-03-12", "2012-07-01", -60), ClockSegment("2012-11-20", "2012-12-01", 30)]
    assert shared_steps(power, light) == [ClockSegment("2012-03-11", "2012-07-01", -60), power[1]]
    assert shared_steps(power, [ClockSegment("2012-03-11", "2012-07-01", 60)]) == power  # another size: its own
    assert shared_steps(power, [ClockSegment("2012-03-01", "2012-07-01", -60)]) == power  # 11 days apart
    assert shared_steps(power, []) == power


def test_power_only_a_dst_step_is_moved_back_and_a_west_roof_is_left_alone() -> None:
    """A file without irradiance: the power's own steps against the sun are its clock; an offset every
    day shares (a west-facing roof) is the orientation's and stays."""
    truth = _plant(40)
    frame = _shift(truth, ["ac_power_kw", "module_temp_c"], 60, since="2022-03-21")[["ac_power_kw", "module_temp_c"]]
    warnings = align_to_sun(frame, WHERE)
    assert len(warnings) == 1 and "AC power logger clock runs 60 min late from 2022-03-21" in warnings[0]
    _close(frame["ac_power_kw"], truth["ac_power_kw"], "2022-03-01")
    west = _plant(40, azimuth_deg=250.0)[["ac_power_kw"]]
    frame = west.copy()
    assert align_to_sun(frame, WHERE) == []
    pd.testing.assert_frame_equal(frame, west)


def test_power_only_a_dst_step_on_top_of_a_whole_file_offset_moves_only_the_step() -> None:
    """Every day an hour late (a zone, or the orientation: the same to the sun) and a DST step on top:
    only the step is the logger's, measured from the setting nearest the sun (the whole-file hour was
    moved too before, as if it were part of the step)."""
    truth = _plant(40)
    late = _shift(truth, ["ac_power_kw"], 60)
    frame = _shift(late, ["ac_power_kw"], 60, since="2022-03-21")[["ac_power_kw"]]
    warnings = align_to_sun(frame, WHERE)
    assert len(warnings) == 1 and "runs 60 min late from 2022-03-21" in warnings[0], warnings
    _close(frame["ac_power_kw"], late["ac_power_kw"], "2022-03-02")
