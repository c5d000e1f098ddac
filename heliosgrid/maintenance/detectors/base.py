"""What every detector shares: the :class:`Finding`, recommended actions and run helpers.

Energy lost (kWh) for loss faults = Σ over the episode's buckets of (calibrated expected AC −
measured AC) × 0.25 h, where calibrated expected = ``expected_ac_kw × k`` and ``k`` is the
device's typical actual/expected ratio over healthy daylight buckets
(:func:`~heliosgrid.maintenance.expected.calibration_factor`). Sensor and communication faults
lose no energy (0 kWh): the plant kept producing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.contract import FAULT_TYPES
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.maintenance.frames import BUCKET, BUCKET_H, completeness
from heliosgrid.physics import DeviceSpec

INFO_TYPES: tuple[str, ...] = ("clipping", "degradation", "snow_loss")
"""Informational findings: in the run summary (clipping) or as info alerts, never a truck roll."""
ALL_TYPES: tuple[str, ...] = FAULT_TYPES + INFO_TYPES

ACTIONS: dict[str, str] = {
    "inverter_trip": "Check the inverter's fault log and grid/AC breaker; reset remotely or dispatch a technician.",
    "string_outage": "Inspect string fuses, connectors and combiner box of the inverter; IV-curve trace the affected strings.",
    "soiling": "Schedule module cleaning when the lost revenue exceeds the cleaning cost.",
    "stuck_sensor": "Check the sensor and its data logger channel; replace or re-seat the sensor.",
    "irradiance_drift": "Clean and recalibrate the pyranometer/reference cell; compare against the site weather station.",
    "overheating": "Inspect ventilation, hot spots (IR thermography) and the back-sheet sensor mounting.",
    "comm_gap": "Check the data logger, network link and modem of the device; data may need backfilling.",
    "clipping": "Informational: energy lost to inverter clipping; review the DC/AC ratio at the next design review.",
    "degradation": "Compare with the module warranty; schedule IV-curve tests and an EL/IR inspection.",
    "snow_loss": "Informational: snow or frost on the modules; no technician needed, output returns as it melts.",
}


@dataclass
class Finding:
    """One detected episode on one device. Times are tz-aware UTC; energy kWh."""

    site_id: str
    device_id: str
    fault_type: str
    severity: str
    started_at: pd.Timestamp
    ended_at: pd.Timestamp
    detected_at: pd.Timestamp
    energy_lost_kwh: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    recommended_action: str = ""

    def __post_init__(self) -> None:
        if not self.recommended_action:
            self.recommended_action = ACTIONS.get(self.fault_type, "")
        self.energy_lost_kwh = max(0.0, float(self.energy_lost_kwh))


def episode(
    device: DeviceSpec,
    fault_type: str,
    severity: str,
    f: pd.DataFrame,
    span: tuple[int, int],
    detected: int,
    *,
    title: str,
    evidence: dict[str, Any],
    energy_lost_kwh: float = 0.0,
) -> Finding:
    """The :class:`Finding` of an episode over buckets ``[span[0], span[1])`` of ``f``, detected at
    the start of bucket ``detected`` (the end of the bucket that completed the evidence)."""
    return Finding(
        site_id=device.site_id,
        device_id=device.device_id,
        fault_type=fault_type,
        severity=severity,
        started_at=ts_at(f, span[0]),
        ended_at=ts_at(f, span[1]),
        detected_at=ts_at(f, detected),
        energy_lost_kwh=energy_lost_kwh,
        evidence=evidence,
        title=title,
    )


def clear_sky_reference(f: pd.DataFrame) -> bool:
    """The device's features were built against the clear sky: no irradiance at its site in the window
    (``clear_sky_reference``, :func:`heliosgrid.maintenance.expected.site_features`)."""
    return "clear_sky_reference" in f and bool(f["clear_sky_reference"].any())


def runs(mask: pd.Series) -> list[tuple[int, int]]:
    """Positional ``[start, stop)`` index pairs of the True runs of a boolean series."""
    values = mask.fillna(False).to_numpy(dtype=bool)
    if not values.any():
        return []
    edges = np.diff(np.concatenate(([0], values.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def merge_runs(found: list[tuple[int, int]], bridge: np.ndarray, max_gap: int | None = None) -> list[tuple[int, int]]:
    """Merge runs separated only by ``bridge`` buckets (and at most ``max_gap`` of them when set)."""
    merged: list[tuple[int, int]] = []
    for start, stop in found:
        if merged:
            prev_start, prev_stop = merged[-1]
            gap = bridge[prev_stop:start]
            if gap.all() and (max_gap is None or start - prev_stop <= max_gap):
                merged[-1] = (prev_start, stop)
                continue
        merged.append((start, stop))
    return merged


def num(x: Any, digits: int = 3) -> float | None:
    """``x`` rounded for evidence JSON; None when not finite."""
    value = float(x)
    return None if not np.isfinite(value) else round(value, digits)


def loss_kwh(f: pd.DataFrame, k: float, start: int, stop: int, expected_col: str = "expected_ac_kw") -> float:
    """Σ (k × expected − actual) × 0.25 h over buckets ``[start, stop)`` with data (kWh, not clipped per bucket)."""
    part = f.iloc[start:stop]
    diff = (part[expected_col] * k - part["ac_power_kw_avg"]).dropna()
    return float(diff.sum() * BUCKET_H)


def ts_at(f: pd.DataFrame, pos: int) -> pd.Timestamp:
    """Start of bucket ``pos`` of ``f``; one bucket past the end for ``pos == len(f)``."""
    if pos >= len(f.index):
        return pd.Timestamp(f.index[-1]) + BUCKET
    return pd.Timestamp(f.index[pos])


def complete(f: pd.DataFrame, th: Thresholds = DEFAULT) -> pd.Series:
    """Buckets holding at least ``th.complete_fraction`` of their nominal samples."""
    return completeness(f) >= th.complete_fraction


def exclusion(f: pd.DataFrame, exclude: pd.Series | None) -> pd.Series:
    """``exclude`` aligned to ``f`` (False where missing); all False when None."""
    if exclude is None:
        return pd.Series(False, index=f.index)
    return exclude.reindex(f.index, fill_value=False).astype(bool)


def healthy_daylight_mask(f: pd.DataFrame, device: DeviceSpec, exclude: pd.Series | None, th: Thresholds) -> pd.Series:
    """Complete, producing daylight buckets with a model ratio, away from clipping, hot modules and
    ``exclude`` — where a loss of output (string outage) can be judged against the model.

    Producing = AC above ``th.trip_power_fraction`` × the device's AC nameplate (kW); hot = module
    temperature above the thermal model by more than half the overheating threshold (°C).
    """
    return (
        f["daylight"]
        & complete(f, th)
        & f["ratio_expected"].notna()
        & ~f["near_clipping"]
        & (f["ac_power_kw_avg"] > th.trip_power_fraction * device.ac_capacity_kw)
        & ~(f["tmod_excess_c"] > th.overheat_excess_c / 2)  # hot modules: overheating's business
        & ~exclusion(f, exclude)
    )
