"""Real-world measurement noise on top of the simulator's physics, and per-device reporting intervals.

The clean signals (:mod:`.signals`) carry only white sensor noise that 15-minute averaging
removes: their measured/expected AC ratio scatters by < 1 %, while real plants scatter by 3–10 %
(``docs/maintenance.md``, "Simulator vs real series"). :class:`NoiseProfile` adds what real
meters and sensors do, per device and local day (random keyed on seed, device, day: any window
is reproducible alone):

* **meter**: white relative noise ``meter_sigma`` per sample (IEC 62053-22 class 0.5S meter) and a
  constant per-device gain error ``meter_bias_sigma`` (CT/meter tolerance), on DC and AC power;
* **irradiance sensor**: a constant gain error ``poa_bias_sigma`` (ISO 9060 class B/C
  calibration), a slow AR(1) error ``poa_slow_sigma`` with time constant ``poa_slow_tau_min``
  (cosine/spectral response and the point sensor seeing other clouds and shade than the array —
  the component 15-minute averaging does *not* remove), and sensor soiling that grows by
  ``poa_soiling_per_day`` and is cleaned every ``poa_cleaning_days`` days;
* **module temperature**: a first-order thermal lag (time constant ``module_tau_min``) of the
  back-sheet sensor behind the steady-state model;
* **reporting interval** per device (:meth:`NoiseProfile.interval_for`): a device reports only at
  multiples of its interval (60 s … 15 min on the simulator's minute grid; the real-series replay
  covers 1 s).

:data:`REALISTIC` is calibrated to the real series (see the section above; measured with
:mod:`.realism`): the slow POA error and the thermal lag were set so that the simulator's
model-ratio scatter and lag sit inside the range the real measured-POA series show — not to make
any detector pass. ``noise=None`` (or ``HELIOS_SIM_NOISE=none``) gives the exact physics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from heliosgrid.physics import DeviceSpec
from heliosgrid.simulation.weather import _ar1, day_rng

NOISE_STREAM = 7
BIAS_DAY = date(2000, 1, 1)
"""Per-device constants (gain errors) are drawn once for this fixed "day"."""


@dataclass(frozen=True)
class NoiseProfile:
    """Measurement imperfections (module doc). Relative values are fractions; temperatures °C."""

    name: str = "realistic"
    meter_sigma: float = 0.005
    meter_bias_sigma: float = 0.01
    poa_bias_sigma: float = 0.02
    poa_slow_sigma: float = 0.03
    poa_slow_tau_min: float = 60.0
    poa_soiling_per_day: float = 0.0005
    poa_cleaning_days: int = 30
    module_tau_min: float = 15.0
    interval_s: int = 60
    device_intervals_s: tuple[tuple[str, int], ...] = ()

    def interval_for(self, device_id: str) -> int:
        """Reporting interval (s) of ``device_id``: its own entry, else ``interval_s``."""
        return dict(self.device_intervals_s).get(device_id, self.interval_s)

    def with_intervals(self, intervals_s: dict[str, int], default_s: int | None = None) -> NoiseProfile:
        """A copy with per-device intervals (device_id → seconds) and optionally a new default."""
        return replace(
            self,
            device_intervals_s=tuple(sorted(intervals_s.items())),
            interval_s=self.interval_s if default_s is None else default_s,
        )


REALISTIC = NoiseProfile()
"""The default of the simulator and the producer (calibration in ``docs/maintenance.md``)."""


def profile_named(name: str, intervals_s: dict[str, int] | None = None, default_s: int = 60) -> NoiseProfile | None:
    """``"realistic"`` → :data:`REALISTIC` (with the given intervals), ``"none"`` → None (exact physics)."""
    if name == "none":
        return None
    if name != "realistic":
        raise ValueError(f"unknown noise profile {name!r} (realistic | none)")
    return REALISTIC.with_intervals(intervals_s or {}, default_s)


def _first_order_lag(values: np.ndarray, tau_min: float, step_min: float) -> np.ndarray:
    """First-order lag of ``values`` (starting at its first value); NaNs are carried through."""
    if tau_min <= 0 or len(values) == 0:
        return values
    from scipy.signal import lfilter

    a = float(np.exp(-step_min / tau_min))
    filled = pd.Series(values).interpolate(limit_direction="both").to_numpy(dtype=float)
    if not np.isfinite(filled).all():
        return values
    out, _ = lfilter([1.0 - a], [1.0, -a], filled, zi=[a * filled[0]])
    return np.where(np.isfinite(values), np.round(out, 2), np.nan)


def apply_noise(
    frame: pd.DataFrame, device: DeviceSpec, day: date, step: pd.Timedelta, seed: int, profile: NoiseProfile
) -> pd.DataFrame:
    """A copy of one device's clean local-day ``frame`` (see :func:`.signals.site_day`) with the
    profile's irradiance-sensor and module-temperature imperfections (the sensors, before faults)."""
    out = frame.copy()
    n = len(out)
    step_min = step / pd.Timedelta(minutes=1)
    const = day_rng(seed, device.device_id, BIAS_DAY, stream=NOISE_STREAM)
    const.normal(0.0, profile.meter_bias_sigma)  # the meter's gain (first draw): apply_meter_noise
    poa_gain = 1.0 + const.normal(0.0, profile.poa_bias_sigma)
    phase = int(const.integers(0, max(1, profile.poa_cleaning_days)))
    rng = day_rng(seed, device.device_id, day, stream=NOISE_STREAM)
    phi = float(np.exp(-step_min / profile.poa_slow_tau_min)) if profile.poa_slow_tau_min > 0 else 0.0
    slow = _ar1(rng, n, phi, profile.poa_slow_sigma) if n else np.zeros(0)
    days_dirty = (day.toordinal() + phase) % max(1, profile.poa_cleaning_days)
    soiling = 1.0 - profile.poa_soiling_per_day * days_dirty
    poa = out["poa_w_m2"].to_numpy(dtype=float)
    out["poa_w_m2"] = np.round(poa * poa_gain * soiling * (1.0 + slow), 1)
    if "ghi_w_m2" in out and out["ghi_w_m2"].notna().any():
        out["ghi_w_m2"] = np.round(out["ghi_w_m2"].to_numpy(dtype=float) * poa_gain * soiling, 1)
    if device.kind == "inverter":
        out["module_temp_c"] = _first_order_lag(out["module_temp_c"].to_numpy(dtype=float), profile.module_tau_min, step_min)
    return out


def apply_meter_noise(
    frame: pd.DataFrame, device: DeviceSpec, step: pd.Timedelta, seed: int, profile: NoiseProfile
) -> pd.DataFrame:
    """``frame`` (one device, indexed by UTC ``ts``, after faults: the meter measures the faulted
    plant) with the meter's gain error and white noise on DC and AC power. The noise of a sample
    depends only on (seed, device, UTC day, slot of the day), so any window equals the same slice
    of a longer run."""
    if device.kind != "inverter" or frame.empty:
        return frame
    out = frame.copy()
    gain = 1.0 + day_rng(seed, device.device_id, BIAS_DAY, stream=NOISE_STREAM).normal(0.0, profile.meter_bias_sigma)
    slots = int(pd.Timedelta(days=1) / step)
    day0 = out.index.floor("1D")
    white = np.empty(len(out))
    for day in day0.unique():
        rows = np.asarray(day0 == day)
        draws = day_rng(seed, device.device_id, day.date(), stream=NOISE_STREAM + 1).normal(0.0, profile.meter_sigma, slots)
        white[rows] = draws[np.asarray((out.index[rows] - day) // step, dtype=int)]
    for col in ("dc_power_kw", "ac_power_kw"):
        out[col] = np.round(np.clip(out[col].to_numpy(dtype=float) * gain * (1.0 + white), 0.0, None), 3)
    return out


def keep_reporting_rows(frame: pd.DataFrame, interval_s: int, step: pd.Timedelta) -> pd.DataFrame:
    """Rows of ``frame`` (indexed by UTC ``ts``) on the device's reporting grid: multiples of
    ``interval_s`` since the epoch. An interval at or below the simulator's step keeps every row."""
    if interval_s <= step.total_seconds():
        return frame
    epoch_s = (frame.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return frame[np.asarray(epoch_s) % int(interval_s) == 0]
