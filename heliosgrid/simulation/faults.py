"""Fault specifications for the simulator and reproducible random fault schedules.

Fault types and their effect (``params`` keys with defaults):

===================  =========================================================  ==================
fault_type           effect                                                     params (defaults)
===================  =========================================================  ==================
inverter_trip        DC and AC 0 although irradiance is present, status 'fault'  —
string_outage        DC × (1 − loss_fraction), AC re-computed (clipping kept)    loss_fraction 0.25
soiling              DC × (1 − min(rate_per_day · days, max_loss)); the POA      rate_per_day 0.005,
                     reference sensor is kept clean (that is how it is seen)     max_loss 0.5
stuck_sensor         ``sensor`` repeats the value it read one step before start  sensor 'poa_w_m2'
irradiance_drift     POA sensor gain 1 + drift_per_day · days (power unchanged)  drift_per_day 0.02
overheating          module temperature + delta_c, AC and DC × (1 − derate)      delta_c 25, derate
                                                                                 0.15
comm_gap             no readings at all from the device in the window            —
===================  =========================================================  ==================

``days`` counts from ``started_at``. Windows are half-open: ``started_at <= ts < ended_at``.
Faults only reducing AC energy (trip, string outage, soiling, overheating) have
``energy_lost_kwh > 0`` in the ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.contract import FAULT_TYPES
from heliosgrid.physics import SiteSpec
from heliosgrid.simulation.weather import stable_hash

INVERTER_ONLY_FAULTS = frozenset({"inverter_trip", "string_outage", "soiling", "overheating"})
"""Fault types that need an inverter (weather stations have no power path)."""

ENERGY_LOSS_FAULTS = frozenset({"inverter_trip", "string_outage", "soiling", "overheating"})
"""Fault types that reduce AC energy (the others only corrupt or hide measurements)."""

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "inverter_trip": {},
    "string_outage": {"loss_fraction": 0.25},
    "soiling": {"rate_per_day": 0.005, "max_loss": 0.5},
    "stuck_sensor": {"sensor": "poa_w_m2"},
    "irradiance_drift": {"drift_per_day": 0.02},
    "overheating": {"delta_c": 25.0, "derate_fraction": 0.15},
    "comm_gap": {},
}

STUCK_SENSORS = {
    "inverter": ("poa_w_m2", "module_temp_c"),
    "weather_station": ("poa_w_m2", "ghi_w_m2", "ambient_temp_c"),
}


def _utc(value: Any, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (got {value!r})")
    return ts.tz_convert("UTC")


@dataclass(frozen=True)
class FaultSpec:
    """One injected fault on one device over ``[started_at, ended_at)`` (UTC timestamps).

    ``params`` overrides the defaults of :data:`DEFAULT_PARAMS` for the fault type; the stored
    ``params`` is the merged dict, so ground truth always records the values actually used.
    """

    device_id: str
    fault_type: str
    started_at: pd.Timestamp
    ended_at: pd.Timestamp
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        if self.fault_type not in FAULT_TYPES:
            raise ValueError(f"unknown fault_type {self.fault_type!r}; expected one of {', '.join(FAULT_TYPES)}")
        start = _utc(self.started_at, "started_at")
        end = _utc(self.ended_at, "ended_at")
        if end <= start:
            raise ValueError(f"fault on {self.device_id}: ended_at {end} must be after started_at {start}")
        merged = {**DEFAULT_PARAMS[self.fault_type], **(self.params or {})}
        _check_params(self.fault_type, merged)
        object.__setattr__(self, "started_at", start)
        object.__setattr__(self, "ended_at", end)
        object.__setattr__(self, "params", merged)

    @property
    def duration_h(self) -> float:
        """Length of the fault window in hours."""
        return (self.ended_at - self.started_at).total_seconds() / 3600.0


def _check_params(fault_type: str, params: dict[str, Any]) -> None:
    def frac(name: str, low: float = 0.0, high: float = 1.0) -> None:
        value = params.get(name)
        if not isinstance(value, int | float) or not low <= float(value) <= high:
            raise ValueError(f"{fault_type}: params[{name!r}] must be a number in [{low}, {high}], got {value!r}")

    if fault_type == "string_outage":
        frac("loss_fraction")
    elif fault_type == "soiling":
        frac("rate_per_day", 0.0, 0.2)
        frac("max_loss")
    elif fault_type == "irradiance_drift":
        frac("drift_per_day", -0.1, 0.1)
    elif fault_type == "overheating":
        frac("delta_c", 0.0, 60.0)
        frac("derate_fraction")
    elif fault_type == "stuck_sensor":
        allowed = sorted({s for v in STUCK_SENSORS.values() for s in v})
        if params.get("sensor") not in allowed:
            raise ValueError(f"stuck_sensor: params['sensor'] must be one of {allowed}, got {params.get('sensor')!r}")


# Duration ranges (hours) and parameter draws for random schedules.
_DURATION_H: dict[str, tuple[float, float]] = {
    "inverter_trip": (0.5, 6.0),
    "string_outage": (24.0, 120.0),
    "soiling": (7 * 24.0, 30 * 24.0),
    "stuck_sensor": (2.0, 12.0),
    "irradiance_drift": (5 * 24.0, 20 * 24.0),
    "overheating": (1.0, 4.0),
    "comm_gap": (10 / 60, 2.0),
}


def _draw_params(rng: np.random.Generator, fault_type: str, kind: str) -> dict[str, Any]:
    if fault_type == "string_outage":
        return {"loss_fraction": round(float(rng.choice([1, 2, 3, 4])) / 12.0, 4)}
    if fault_type == "soiling":
        return {"rate_per_day": round(float(rng.uniform(0.003, 0.01)), 5), "max_loss": 0.5}
    if fault_type == "stuck_sensor":
        return {"sensor": str(rng.choice(STUCK_SENSORS[kind]))}
    if fault_type == "irradiance_drift":
        sign = 1.0 if rng.random() < 0.5 else -1.0
        return {"drift_per_day": round(sign * float(rng.uniform(0.005, 0.02)), 5)}
    if fault_type == "overheating":
        return {"delta_c": round(float(rng.uniform(15.0, 30.0)), 2), "derate_fraction": round(float(rng.uniform(0.1, 0.3)), 3)}
    return {}


def random_faults(
    fleet: Sequence[SiteSpec],
    start: Any,
    end: Any,
    seed: int,
    *,
    rate_per_device_month: float = 1.0,
    freq: str = "1min",
    fault_types: Sequence[str] = FAULT_TYPES,
) -> list[FaultSpec]:
    """A reproducible fault schedule for ``fleet`` over ``[start, end)``.

    Every fault type in ``fault_types`` appears at least once (when the fleet has an eligible
    device; in a window too crowded for 40 random draws, in the largest free gap), then further
    faults arrive as a Poisson process of ``rate_per_device_month`` faults per device per 30 days.
    Faults are shortened when a short window leaves no room. Faults never overlap on one device,
    start and end on the ``freq`` grid, lie inside the window (long faults are shortened to fit), and sensor and overheating
    faults start in daylight hours (08–16 local) so they are visible. Same inputs → same list.
    """
    start_ts, end_ts = _utc(start, "start"), _utc(end, "end")
    if end_ts <= start_ts:
        raise ValueError("random_faults: end must be after start")
    for t in fault_types:
        if t not in FAULT_TYPES:
            raise ValueError(f"unknown fault type {t!r}")
    step = pd.Timedelta(freq)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, stable_hash("faults"), int(start_ts.value // 10**9)])
    devices = [(site, d) for site in fleet for d in site.devices]
    if not devices:
        return []
    window_h = (end_ts - start_ts).total_seconds() / 3600.0
    n_extra = int(rng.poisson(rate_per_device_month * len(devices) * window_h / (30 * 24.0)))
    # coverage first, short and daylight-bound faults before long ones (long ones can shrink)
    coverage = sorted(fault_types, key=lambda t: _DURATION_H[t][1])
    wanted = coverage + [str(rng.choice(list(fault_types))) for _ in range(n_extra)]
    busy: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    out: list[FaultSpec] = []
    for i, fault_type in enumerate(wanted):
        eligible = [(s, d) for s, d in devices if d.kind == "inverter" or fault_type not in INVERTER_ONLY_FAULTS]
        if not eligible:
            continue
        slot = _random_slot(rng, fault_type, eligible, start_ts, end_ts, step, busy)
        if slot is None and i < len(coverage):  # every type at least once: the largest free gap left
            slot = _free_gap_slot(fault_type, [d for _, d in eligible], start_ts, end_ts, step, busy)
        if slot is None:
            continue
        dev, begin, finish = slot
        busy.setdefault(dev.device_id, []).append((begin, finish))
        out.append(FaultSpec(dev.device_id, fault_type, begin, finish, _draw_params(rng, fault_type, dev.kind)))
    out.sort(key=lambda f: (f.started_at, f.device_id, f.fault_type))
    return out


Slot = tuple[Any, pd.Timestamp, pd.Timestamp]
"""(device, start, end) of a placed fault."""


def _random_slot(
    rng: np.random.Generator, fault_type: str, eligible: list[tuple[SiteSpec, Any]], start_ts: pd.Timestamp,
    end_ts: pd.Timestamp, step: pd.Timedelta, busy: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]],
) -> Slot | None:
    """Up to 40 random draws of a device and a span (long faults shrink every 4 draws; sensor, trip
    and overheating faults start in local daylight, 08–16 h) that overlaps no fault of the device."""
    window_h = (end_ts - start_ts).total_seconds() / 3600.0
    for attempt in range(40):
        site, dev = eligible[int(rng.integers(len(eligible)))]
        low_h, high_h = _DURATION_H[fault_type]
        # shrink long faults when the window (or the device's free time) is short
        duration_h = min(float(rng.uniform(low_h, high_h)), window_h * 0.8) * 0.8 ** (attempt // 4)
        latest_start_h = max(0.0, window_h - duration_h)
        begin = start_ts + pd.Timedelta(hours=float(rng.uniform(0.0, latest_start_h)))
        if fault_type in {"stuck_sensor", "overheating", "inverter_trip"}:
            local = begin.tz_convert(site.timezone)
            hour = float(rng.uniform(8.0, 16.0 - min(duration_h, 6.0)))
            begin = (local.normalize() + pd.Timedelta(hours=hour)).tz_convert("UTC")
            if begin < start_ts:
                begin += pd.Timedelta(days=1)
        begin = begin.ceil(step)
        finish = min((begin + pd.Timedelta(hours=duration_h)).ceil(step), end_ts.floor(step))
        if finish <= begin or any(begin < b and a < finish for a, b in busy.get(dev.device_id, [])):
            continue
        return dev, begin, finish
    return None


def _free_gap_slot(
    fault_type: str, eligible: list[Any], start_ts: pd.Timestamp, end_ts: pd.Timestamp, step: pd.Timedelta,
    busy: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]],
) -> Slot | None:
    """The largest gap between the eligible devices' faults (first device on ties), up to the fault
    type's shortest duration: a crowded short window still gets every fault type once."""
    best: Slot | None = None
    for dev in eligible:
        edges = [start_ts, *(t for span in sorted(busy.get(dev.device_id, [])) for t in span), end_ts]
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            begin, finish = a.ceil(step), min(b.floor(step), a.ceil(step) + pd.Timedelta(hours=_DURATION_H[fault_type][0]))
            if finish > begin and (best is None or finish - begin > best[2] - best[1]):
                best = (dev, begin, finish)
    return best
