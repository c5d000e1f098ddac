"""Faults injected into real readings, with their true energy lost (kWh).

Each function returns a modified copy of one device's readings (the contract columns of
:mod:`heliosgrid.maintenance.realdata`) and the truth row: ``fault_type, device_id, started_at,
ended_at, energy_lost_kwh``. True energy = Σ (original − faulted AC power) × the reporting
interval (h). The faults are the issue's: trip of 3 daylight hours, string × 0.75 for 2 days,
soiling ramp over 3 weeks, stuck POA for 6 h, communication gap for 4 h, irradiance drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Injected:
    """A faulted copy of the readings and the ground truth."""

    readings: pd.DataFrame
    truth: dict[str, Any]


def _truth(
    readings: pd.DataFrame, fault_type: str, start: pd.Timestamp, end: pd.Timestamp, lost_kw: pd.Series, cadence_s: int
) -> dict[str, Any]:
    return {
        "fault_type": fault_type,
        "device_id": str(readings["device_id"].iloc[0]),
        "started_at": start,
        "ended_at": end,
        "energy_lost_kwh": float(lost_kw.clip(lower=0).sum() * cadence_s / 3600.0),
    }


def _window(readings: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    return (readings["ts"] >= start) & (readings["ts"] < end)


def trip(readings: pd.DataFrame, start: pd.Timestamp, cadence_s: int, hours: float = 3.0) -> Injected:
    """Inverter trip: AC and DC power 0, status ``fault`` for ``hours``."""
    end = start + pd.Timedelta(hours=hours)
    out = readings.copy()
    w = _window(out, start, end)
    lost = out.loc[w, "ac_power_kw"].copy()
    out.loc[w, ["ac_power_kw", "dc_power_kw"]] = 0.0
    out.loc[w, "inverter_status"] = "fault"
    return Injected(out, _truth(readings, "inverter_trip", start, end, lost, cadence_s))


def _scale_power(
    readings: pd.DataFrame, fault_type: str, start: pd.Timestamp, end: pd.Timestamp, keep: Any, cadence_s: int
) -> Injected:
    """AC and DC power × ``keep`` (a factor or, per reading in the window, a series) in ``[start, end)``."""
    out = readings.copy()
    w = _window(out, start, end)
    lost = out.loc[w, "ac_power_kw"] * (1.0 - keep)
    out.loc[w, ["ac_power_kw", "dc_power_kw"]] = out.loc[w, ["ac_power_kw", "dc_power_kw"]].mul(keep, axis=0)
    return Injected(out, _truth(readings, fault_type, start, end, lost, cadence_s))


def string_outage(
    readings: pd.DataFrame, start: pd.Timestamp, cadence_s: int, factor: float = 0.75, days: float = 2.0
) -> Injected:
    """String outage: AC and DC power × ``factor`` for ``days``."""
    return _scale_power(readings, "string_outage", start, start + pd.Timedelta(days=days), factor, cadence_s)


def soiling(
    readings: pd.DataFrame, start: pd.Timestamp, cadence_s: int, days: float = 21.0, rate_per_day: float = 0.005
) -> Injected:
    """Soiling: AC and DC power × (1 − rate · days since start) for ``days``, then cleaned."""
    end = start + pd.Timedelta(days=days)
    ts = readings.loc[_window(readings, start, end), "ts"]
    keep = 1.0 - rate_per_day * (ts - start).dt.total_seconds() / 86400.0
    return _scale_power(readings, "soiling", start, end, keep, cadence_s)


def stuck_poa(readings: pd.DataFrame, start: pd.Timestamp, cadence_s: int, hours: float = 6.0) -> Injected:
    """Stuck POA sensor: the reading at ``start`` repeats for ``hours``."""
    end = start + pd.Timedelta(hours=hours)
    out = readings.copy()
    w = _window(out, start, end)
    out.loc[w, "poa_w_m2"] = float(out.loc[w, "poa_w_m2"].iloc[0]) if w.any() else np.nan
    return Injected(out, _truth(readings, "stuck_sensor", start, end, pd.Series(dtype=float), cadence_s))


def comm_gap(readings: pd.DataFrame, start: pd.Timestamp, cadence_s: int, hours: float = 4.0) -> Injected:
    """Communication gap: no readings for ``hours``."""
    end = start + pd.Timedelta(hours=hours)
    out = readings[~_window(readings, start, end)].reset_index(drop=True)
    return Injected(out, _truth(readings, "comm_gap", start, end, pd.Series(dtype=float), cadence_s))


def irradiance_drift(readings: pd.DataFrame, start: pd.Timestamp, cadence_s: int, drift_per_day: float = 0.02) -> Injected:
    """POA sensor drift: reading × (1 + ``drift_per_day`` · days since start) until the end of the data."""
    end = pd.Timestamp(readings["ts"].max()) + pd.Timedelta(seconds=cadence_s)
    out = readings.copy()
    w = _window(out, start, end)
    elapsed_d = (out.loc[w, "ts"] - start).dt.total_seconds() / 86400.0
    out.loc[w, "poa_w_m2"] = out.loc[w, "poa_w_m2"] * (1.0 + drift_per_day * elapsed_d)
    return Injected(out, _truth(readings, "irradiance_drift", start, end, pd.Series(dtype=float), cadence_s))
