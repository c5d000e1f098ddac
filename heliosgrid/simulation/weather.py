"""Stochastic weather for the plant simulator: clear-sky index (clouds) and ambient temperature.

Every random draw is keyed on ``(seed, site or device, local calendar day)`` so that any time
window can be regenerated on its own and gives exactly the same values as a longer run (the
backfill, chunked and real-time paths all agree). Local midnight is always night, so restarting
the cloud process at each local day boundary is invisible in the power output.

Model (documented assumptions, not a fitted climatology):

* Each local day draws a regime — ``clear`` (p=0.5), ``partly`` (0.35) or ``overcast`` (0.15).
* ``clear``: clear-sky index ``k`` ≈ 1 with a slow AR(1) wobble (σ ≈ 1 %) for aerosols/haze.
* ``partly``: a two-state Markov chain (sun / cloud) with mean dwell times of ~20 min sun and
  ~8 min cloud; cloud transmittance is an AR(1) process in [0.15, 0.75]; sun periods carry a
  small cloud-enhancement (up to +8 %) near cloud edges; smoothed over 3 minutes.
* ``overcast``: AR(1) around a daily mean transmittance in [0.15, 0.45].
* Devices of a site see the site's ``k`` with a small multiplicative AR(1) decorrelation
  (σ ≈ 2 %, plus a lag of up to 2 minutes: cloud shadows cross the plant).
* Ambient temperature: seasonal mean from latitude and altitude, a daily random offset, a
  sinusoidal diurnal cycle peaking at 15:00 local (amplitude smaller on overcast days).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy.signal import lfilter

REGIMES = ("clear", "partly", "overcast")
REGIME_PROBABILITIES = (0.5, 0.35, 0.15)


def stable_hash(text: str) -> int:
    """A process-independent 32-bit hash of ``text`` (Python's ``hash`` is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def day_rng(seed: int, key: str, day: date, stream: int = 0) -> np.random.Generator:
    """Random generator for one (seed, key, local day, stream): the unit of reproducibility."""
    return np.random.default_rng([seed & 0xFFFFFFFF, stable_hash(key), day.toordinal(), stream])


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    """Zero-mean AR(1) series with stationary standard deviation ``sigma`` (starts stationary)."""
    eps = rng.normal(0.0, sigma * np.sqrt(1.0 - phi * phi), size=n)
    eps[0] = rng.normal(0.0, sigma)
    return np.asarray(lfilter([1.0], [1.0, -phi], eps), dtype=float)


@dataclass(frozen=True)
class DayWeather:
    """One site's weather for one local day, on the simulation grid.

    ``clearsky_index`` is dimensionless (GHI / clear-sky GHI), ``ambient_temp_c`` in °C,
    ``wind_speed_m_s`` a daily constant in m/s used by the SAPM temperature model.
    """

    regime: str
    clearsky_index: np.ndarray
    ambient_temp_c: np.ndarray
    wind_speed_m_s: float


def site_clearsky_index(rng: np.random.Generator, n: int, step_min: float, regime: str) -> np.ndarray:
    """Site clear-sky index for ``n`` steps of ``step_min`` minutes under a day ``regime``."""
    phi_slow = float(np.exp(-step_min / 60.0))
    if regime == "clear":
        return np.clip(1.0 + _ar1(rng, n, phi_slow, 0.01), 0.9, 1.05)
    if regime == "overcast":
        mean = rng.uniform(0.15, 0.45)
        k = mean + _ar1(rng, n, float(np.exp(-step_min / 20.0)), 0.08)
        return np.clip(k, 0.05, 0.8)
    # partly cloudy: two-state Markov chain, transition probabilities scaled by the step.
    p_sun_to_cloud = min(1.0, step_min / 20.0)
    p_cloud_to_sun = min(1.0, step_min / 8.0)
    u = rng.random(n)
    cloudy = np.empty(n, dtype=bool)
    state = bool(rng.random() < 0.3)
    for i in range(n):
        state = not u[i] < p_cloud_to_sun if state else u[i] < p_sun_to_cloud
        cloudy[i] = state
    transmittance = np.clip(0.45 + _ar1(rng, n, float(np.exp(-step_min / 10.0)), 0.15), 0.15, 0.75)
    enhancement = 1.0 + np.clip(_ar1(rng, n, float(np.exp(-step_min / 5.0)), 0.03), 0.0, 0.08)
    k = np.where(cloudy, transmittance, enhancement)
    window = max(1, round(3.0 / step_min))
    if window > 1:
        k = pd.Series(k).rolling(window, min_periods=1, center=True).mean().to_numpy()
    return np.asarray(k, dtype=float)


def device_clearsky_index(
    rng: np.random.Generator, site_index: np.ndarray, step_min: float
) -> np.ndarray:
    """A device's clear-sky index: the site's, lagged 0–2 min, times a small AR(1) decorrelation."""
    lag = int(rng.integers(0, max(1, round(2.0 / step_min)) + 1))
    shifted = np.concatenate([np.full(lag, site_index[0]), site_index[: len(site_index) - lag]]) if lag else site_index
    factor = 1.0 + _ar1(rng, len(site_index), float(np.exp(-step_min / 5.0)), 0.02)
    return np.clip(shifted * factor, 0.03, 1.12)


def ambient_temperature_c(
    rng: np.random.Generator,
    local_times: pd.DatetimeIndex,
    latitude_deg: float,
    altitude_m: float,
    regime: str,
) -> np.ndarray:
    """Ambient temperature (°C) on ``local_times`` (tz-aware, site-local) for one day.

    Annual mean ``27 - 0.3·|lat| - 4·altitude_km`` °C, seasonal amplitude 8 °C (warmest around
    day 200 in the northern hemisphere, 19 in the southern), daily offset N(0, 2 °C), diurnal
    amplitude 10 °C (clear) / 7 °C (partly) / 4 °C (overcast) peaking at 15:00 local.
    """
    doy = local_times.dayofyear.to_numpy()
    warmest = 200 if latitude_deg >= 0 else 19
    annual = 27.0 - 0.3 * abs(latitude_deg) - 4.0 * altitude_m / 1000.0
    seasonal = annual + 8.0 * np.cos(2 * np.pi * (doy - warmest) / 365.25)
    offset = rng.normal(0.0, 2.0)
    amplitude = {"clear": 10.0, "partly": 7.0, "overcast": 4.0}[regime]
    hour = local_times.hour.to_numpy() + local_times.minute.to_numpy() / 60.0
    diurnal = 0.5 * amplitude * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    noise = _ar1(rng, len(local_times), 0.98, 0.3)
    return np.clip(seasonal + offset + diurnal + noise, -45.0, 55.0)


def day_weather(
    seed: int,
    site_id: str,
    day: date,
    local_times: pd.DatetimeIndex,
    step_min: float,
    latitude_deg: float,
    altitude_m: float,
) -> DayWeather:
    """The weather of one site for one local day (deterministic in ``seed``, ``site_id``, ``day``)."""
    rng = day_rng(seed, site_id, day, stream=0)
    regime = str(rng.choice(REGIMES, p=REGIME_PROBABILITIES))
    wind = float(rng.uniform(0.5, 4.0))
    k = site_clearsky_index(rng, len(local_times), step_min, regime)
    temp = ambient_temperature_c(rng, local_times, latitude_deg, altitude_m, regime)
    return DayWeather(regime=regime, clearsky_index=k, ambient_temp_c=temp, wind_speed_m_s=wind)
