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
