"""Units of an operator's AC column: power as given, energy per interval over the file's own interval."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heliosgrid.units import ENERGY_UNITS_KWH, OUTPUT_UNITS, POWER_UNITS_KW, to_kw


@settings(max_examples=60, deadline=None)
@given(step_min=st.sampled_from([1, 5, 10, 15, 30, 60]), unit=st.sampled_from(sorted(ENERGY_UNITS_KWH)),
       energy=st.lists(st.floats(min_value=0.0, max_value=1e4, allow_nan=False), min_size=5, max_size=50),
       dropped=st.sets(st.integers(min_value=1, max_value=48), max_size=1))
def test_energy_per_interval_is_the_mean_power_times_the_interval(
    step_min: int, unit: str, energy: list[float], dropped: set[int]
) -> None:
    """kW × interval (h) gives back the energy in kWh, whatever the interval, with a row missing here and there."""
    index = pd.date_range("2024-06-01", periods=len(energy), freq=f"{step_min}min", tz="UTC")
    values = pd.Series(energy, index=index).drop(index[[i for i in dropped if i < len(energy) - 1]])
    kw = to_kw(values, unit)
    pd.testing.assert_series_equal(kw * step_min / 60.0, values * ENERGY_UNITS_KWH[unit], check_exact=False)


@pytest.mark.parametrize("unit", sorted(POWER_UNITS_KW))
def test_power_is_scaled_only(unit: str) -> None:
    values = pd.Series([1.0, 2.0], index=pd.date_range("2024-06-01", periods=2, freq="15min", tz="UTC"))
    assert to_kw(values, unit).tolist() == [POWER_UNITS_KW[unit], 2 * POWER_UNITS_KW[unit]]


def test_unknown_units_and_a_single_energy_row_get_a_precise_message() -> None:
    one = pd.Series([1.0], index=pd.DatetimeIndex(["2024-06-01"], tz="UTC"))
    with pytest.raises(ValueError, match=f"power unit must be one of {', '.join(OUTPUT_UNITS)}, got 'GW'"):
        to_kw(one, "GW")
    with pytest.raises(ValueError, match=r"energy per interval \(kWh\) needs at least two distinct timestamps"):
        to_kw(one, "kWh")
