"""Clean (fault-free) device signals of a site: pvlib physics, stochastic weather, sensor noise.

Steps 1-6 of :mod:`heliosgrid.simulation.simulator`: sun position and clear-sky irradiance,
per-device clear-sky index, Erbs decomposition, transposition to the plane of array, SAPM
temperatures, PVWatts DC/AC with clipping, then sensor noise. Everything random is keyed on
(seed, device, local day), so one local day is generated (and cached) alone.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd
import pvlib

from heliosgrid.physics import DeviceSpec, SiteSpec, solar_position
from heliosgrid.physics.model import (
    cell_temperature_c,
    clearsky_irradiance,
    expected_ac_power_kw,
    expected_dc_power_kw,
    module_temperature_c,
    poa_irradiance_w_m2,
)
from heliosgrid.simulation.noise import NoiseProfile, apply_noise
from heliosgrid.simulation.weather import day_rng, day_weather, device_clearsky_index

POA_MAX_W_M2 = 1750.0
"""Upper clip of a measured POA irradiance (W/m²)."""


def local_midnight_utc(site: SiteSpec, day: date) -> pd.Timestamp:
    local = pd.Timestamp(day).tz_localize(site.timezone, ambiguous=True, nonexistent="shift_forward")
    return local.tz_convert("UTC")


@lru_cache(maxsize=64)
def site_day(site: SiteSpec, day: date, step: pd.Timedelta, seed: int) -> dict[str, pd.DataFrame]:
    """Clean (fault-free) signals of every device of ``site`` on local ``day``.

    Returns device_id → DataFrame indexed by UTC ``ts`` with the measured columns
    (``ghi_w_m2``, ``poa_w_m2``, ``ambient_temp_c``, ``module_temp_c``) and, for inverters, the
    true ``dc_power_kw`` / ``ac_power_kw`` (rounded to 1 W). Treat the frames as read-only.
    """
    begin = local_midnight_utc(site, day).ceil(step)
    finish = local_midnight_utc(site, day + timedelta(days=1))
    times = pd.date_range(begin, finish, freq=step, inclusive="left")
    step_min = step / pd.Timedelta(minutes=1)
    weather = day_weather(
        seed, site.site_id, day, times.tz_convert(site.timezone), step_min, site.latitude_deg, site.altitude_m
    )
    solpos = solar_position(site, times)
    clear = clearsky_irradiance(site, times, solpos)
    zenith = solpos["apparent_zenith"]
    ambient = pd.Series(weather.ambient_temp_c, index=times)
    out: dict[str, pd.DataFrame] = {}
    for dev in site.devices:
        rng = day_rng(seed, dev.device_id, day, stream=1)
        k = device_clearsky_index(rng, weather.clearsky_index, step_min)
        ghi = (clear["ghi"] * k).clip(lower=0.0)
        split = pvlib.irradiance.erbs(ghi, zenith, times)
        poa = poa_irradiance_w_m2(site, dev, times, ghi, split["dni"].fillna(0.0), split["dhi"].fillna(0.0), solpos)
        t_module = np.asarray(module_temperature_c(poa, ambient, weather.wind_speed_m_s))
        n = len(times)
        frame = pd.DataFrame(index=times)
        frame.index.name = "ts"
        poa_meas = poa.to_numpy() * (1.0 + rng.normal(0.0, 0.01, n)) + rng.normal(0.0, 1.0, n)
        frame["poa_w_m2"] = np.round(np.clip(poa_meas, -5.0, POA_MAX_W_M2), 1)
        if dev.kind == "weather_station":
            ghi_meas = ghi.to_numpy() * (1.0 + rng.normal(0.0, 0.01, n)) + rng.normal(0.0, 1.0, n)
            frame["ghi_w_m2"] = np.round(np.clip(ghi_meas, -5.0, 1450.0), 1)
            frame["ambient_temp_c"] = np.round(weather.ambient_temp_c + rng.normal(0.0, 0.2, n), 2)
            frame["module_temp_c"] = np.nan
            frame["dc_power_kw"] = np.nan
            frame["ac_power_kw"] = np.nan
        else:
            t_cell = cell_temperature_c(poa, ambient, weather.wind_speed_m_s)
            dc = np.clip(np.asarray(expected_dc_power_kw(poa, t_cell, dev), dtype=float), 0.0, None)
            frame["ghi_w_m2"] = np.nan
            frame["ambient_temp_c"] = np.nan
            frame["module_temp_c"] = np.round(t_module + rng.normal(0.0, 0.3, n), 2)
            frame["dc_power_kw"] = dc
            frame["ac_power_kw"] = inverter_ac(dc, dev)
        out[dev.device_id] = frame
    return out


def inverter_ac(dc_power_kw: np.ndarray, device: DeviceSpec) -> np.ndarray:
    """AC power (kW, rounded to 1 W) of ``device`` for DC input ``dc_power_kw``."""
    ac = np.asarray(expected_ac_power_kw(np.asarray(dc_power_kw, dtype=float), device), dtype=float)
    return np.round(np.nan_to_num(ac, nan=0.0), 3)


def local_days(site: SiteSpec, start: pd.Timestamp, end: pd.Timestamp) -> list[date]:
    first = start.tz_convert(site.timezone).date()
    last = (end - pd.Timedelta(microseconds=1)).tz_convert(site.timezone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@lru_cache(maxsize=64)
def noisy_site_day(
    site: SiteSpec, day: date, step: pd.Timedelta, seed: int, noise: NoiseProfile | None
) -> dict[str, pd.DataFrame]:
    """:func:`site_day` with the measurement imperfections of ``noise`` (None: unchanged)."""
    clean = site_day(site, day, step, seed)
    if noise is None:
        return clean
    return {d.device_id: apply_noise(clean[d.device_id], d, day, step, seed, noise) for d in site.devices}


def clean_frames(
    site: SiteSpec,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    seed: int,
    noise: NoiseProfile | None = None,
) -> dict[str, pd.DataFrame]:
    """Fault-free device frames of ``site`` over ``[start, end)`` (with ``noise``'s imperfections)."""
    days = local_days(site, start, end)
    blocks = [noisy_site_day(site, d, step, seed, noise) for d in days]
    out: dict[str, pd.DataFrame] = {}
    for dev in site.devices:
        frame = pd.concat([b[dev.device_id] for b in blocks]) if len(blocks) > 1 else blocks[0][dev.device_id]
        out[dev.device_id] = frame.loc[(frame.index >= start) & (frame.index < end)]
    return out


def value_before(site: SiteSpec, device: DeviceSpec, ts: pd.Timestamp, column: str, step: pd.Timedelta, seed: int) -> float:
    """The clean measured ``column`` of ``device`` one grid step before ``ts`` (what a stuck sensor repeats)."""
    prev = ts.ceil(step) - step
    frame = site_day(site, prev.tz_convert(site.timezone).date(), step, seed)[device.device_id]
    return float(frame.at[prev, column])
