"""The near-clipping rule applies to an inverter seen at its limit: flat tops at the nameplate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.maintenance.expected import clipping_seen
from heliosgrid.physics import DeviceSpec

DEV = DeviceSpec("s-inv01", "s", "inverter", 20.0, 180.0, 6.0, 5.0, -0.004, 0.96)


def _days(peak_kw: float, days: int = 4, model_peak_kw: float | None = None) -> pd.DataFrame:
    """Clear days: a sine arc of DC-equivalent power ``peak_kw`` at noon, AC = min(arc, 5 kW); the model's
    expected AC is the same arc scaled to ``model_peak_kw`` (default ``peak_kw``), capped at 5 kW."""
    idx = pd.date_range("2026-06-01", periods=96 * days, freq="15min", tz="UTC")
    hour = idx.hour + idx.minute / 60.0
    shape = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    ac = np.minimum(peak_kw * shape, DEV.ac_capacity_kw)
    expected = np.minimum((model_peak_kw or peak_kw) * shape, DEV.ac_capacity_kw)
    return pd.DataFrame({"ac_power_kw_avg": ac, "ac_power_kw_max": ac, "expected_ac_kw": expected}, index=idx)


def test_flat_tops_at_the_nameplate_are_clipping() -> None:
    assert clipping_seen(_days(6.0), DEV)  # DC/AC 1.2 on clear days: hours at 5 kW
    assert clipping_seen(_days(6.0, model_peak_kw=4.5), DEV)  # the model's DC rating too low: the plateaus say it


def test_reaching_the_nameplate_while_the_model_is_saturated_is_clipping() -> None:
    """Passing clouds: the output touches 5 kW in single buckets, no plateau, but the array could give more."""
    f = _days(6.0)
    f["ac_power_kw_avg"] = f["ac_power_kw_max"] = np.where(np.arange(len(f)) % 2 == 0, f["ac_power_kw_avg"] * 0.7,
                                                           f["ac_power_kw_avg"])
    assert clipping_seen(f, DEV)


def test_a_curve_that_only_touches_its_maximum_is_not() -> None:
    """A nameplate taken as the highest output seen (SERF west): the arc peaks at it for one bucket,
    the model (DC = AC, efficiency 0.96) stays below it, no plateau."""
    assert not clipping_seen(_days(5.0, model_peak_kw=4.9), DEV)


def test_output_far_below_the_nameplate_is_not() -> None:
    assert not clipping_seen(_days(3.0), DEV)
    assert not clipping_seen(_days(6.0).iloc[:4], DEV)  # too few buckets to tell
