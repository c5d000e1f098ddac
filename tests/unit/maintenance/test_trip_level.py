"""Inverter trip: an inverter that is off (not one producing a little), energy at the device's own level."""

from __future__ import annotations

import pandas as pd
import pytest

from heliosgrid.maintenance import detectors as d
from heliosgrid.physics import DeviceSpec

DEVICE = DeviceSpec("x-inv01", "x", "inverter", 30, 180, dc_capacity_kw=120, ac_capacity_kw=100)


def _frame(actual_kw: list[float], expected_kw: float = 80.0) -> pd.DataFrame:
    idx = pd.date_range("2026-06-01 10:00", periods=len(actual_kw), freq="15min", tz="UTC")
    return pd.DataFrame(
        {
            "sample_count": 15.0,
            "daylight": True,
            "expected_ac_kw": expected_kw,
            "ac_power_kw_avg": actual_kw,
            "poa_w_m2_avg": 800.0,
            "status_ok_count": 15.0,
        },
        index=idx,
    )


def test_output_of_one_to_two_percent_is_not_a_trip() -> None:
    # 1.5 % of nameplate for an hour: fog or frost under a reference that says clear sky.
    assert d.detect_inverter_trip(_frame([80.0] * 4 + [1.5] * 4 + [80.0] * 4), DEVICE) == []
    (trip,) = d.detect_inverter_trip(_frame([80.0] * 4 + [0.0] * 4 + [80.0] * 4), DEVICE)
    assert trip.started_at == pd.Timestamp("2026-06-01 11:00", tz="UTC")


def test_trip_energy_is_at_the_devices_own_level() -> None:
    # The device made half the model's power before and after (partial snow, shading): the trip
    # lost 4 × 0.25 h × 40 kW = 40 kWh, not the model's 80 kWh.
    (trip,) = d.detect_inverter_trip(_frame([40.0] * 8 + [0.0] * 4 + [40.0] * 8), DEVICE)
    assert trip.energy_lost_kwh == pytest.approx(40.0)
    assert trip.evidence["adjacent_ratio"] == pytest.approx(0.5)
    # A healthy device at the model: the model's power is what was lost.
    (full,) = d.detect_inverter_trip(_frame([80.0] * 8 + [0.0] * 4 + [80.0] * 8), DEVICE)
    assert full.energy_lost_kwh == pytest.approx(80.0)


def test_snow_covered_buckets_are_not_the_trips_energy() -> None:
    f = _frame([80.0] * 8 + [0.0] * 4 + [80.0] * 8)
    f["snow_suspected"] = False
    f.iloc[8:10, f.columns.get_loc("snow_suspected")] = True
    (trip,) = d.detect_inverter_trip(f, DEVICE)
    assert trip.energy_lost_kwh == pytest.approx(40.0)


def test_readings_without_ac_power_are_no_data_not_a_trip() -> None:
    """A logger that sent the weather but no AC power for an hour: nothing is known of the inverter."""
    nan = float("nan")
    assert d.detect_inverter_trip(_frame([80.0] * 4 + [nan] * 4 + [80.0] * 4), DEVICE) == []
    # A real trip next to the gap is still found, from its first measured dead bucket.
    (trip,) = d.detect_inverter_trip(_frame([80.0] * 4 + [nan] * 2 + [0.0] * 4 + [80.0] * 4), DEVICE)
    assert trip.started_at == pd.Timestamp("2026-06-01 11:30", tz="UTC")
