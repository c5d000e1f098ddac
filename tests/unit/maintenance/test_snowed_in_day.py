"""Snowed-in day without a module sensor (ADR 0260 amendment): snow, not a trip; a 3-h trip stays a trip."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.maintenance.learning import snow_mask


def _frame(ac_kw: np.ndarray, air_c: float) -> pd.DataFrame:
    """Two days of 15-min buckets, daylight 08:00–16:00, expected 50 kW in daylight, no module sensor."""
    idx = pd.date_range("2026-01-05", periods=192, freq="15min", tz="UTC")
    daylight = (idx.hour >= 8) & (idx.hour < 16)
    return pd.DataFrame(
        {
            "daylight": daylight,
            "sample_count": 15,
            "expected_ac_kw": np.where(daylight, 50.0, 0.0),
            "ac_power_kw_avg": ac_kw,
            "ambient_ref_c": air_c,
        },
        index=idx,
    )


def _ac(idx_len: int, low: slice) -> np.ndarray:
    ac = np.full(idx_len, 45.0)
    ac[low] = 0.5
    return ac


def test_whole_day_near_zero_in_cold_air_is_snow() -> None:
    f = _frame(_ac(192, slice(0, 96)), air_c=2.0)  # day 1 near zero all daylight, day 2 producing
    snow = snow_mask(f, 1.0)
    day1 = f["daylight"] & (f.index.day == 5)
    assert snow[day1].all()
    assert not snow[f.index.day == 6].any()


def test_three_hour_trip_in_cold_air_is_not_snow() -> None:
    f = _frame(_ac(192, slice(40, 52)), air_c=2.0)  # 10:00–13:00 at zero, the rest producing
    assert not snow_mask(f, 1.0).any()


def test_whole_day_near_zero_in_warm_air_is_not_snow() -> None:
    f = _frame(_ac(192, slice(0, 96)), air_c=8.0)
    assert not snow_mask(f, 1.0).any()
