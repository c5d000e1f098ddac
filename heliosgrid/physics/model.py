"""pvlib-based plant model: clear sky, transposition, cell temperature, PVWatts DC/AC.

All functions take tz-aware ``pandas.DatetimeIndex`` times and return Series/DataFrames on
that index. Irradiance W/m², temperature °C, power kW.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pvlib

from heliosgrid.physics.fleet import DeviceSpec, SiteSpec

_SAPM_PARAMS = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]


def _location(site: SiteSpec) -> pvlib.location.Location:
    return pvlib.location.Location(site.latitude_deg, site.longitude_deg, tz="UTC", altitude=site.altitude_m)


def solar_position(site: SiteSpec, times: pd.DatetimeIndex) -> pd.DataFrame:
    """Sun position (columns ``apparent_zenith``, ``zenith``, ``azimuth``, ``apparent_elevation``), degrees."""
    return _location(site).get_solarposition(times)


def clearsky_irradiance(site: SiteSpec, times: pd.DatetimeIndex, solpos: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ineichen clear-sky irradiance with climatological Linke turbidity: ``ghi``, ``dni``, ``dhi`` (W/m²)."""
    loc = _location(site)
    solpos = solpos if solpos is not None else loc.get_solarposition(times)
    return loc.get_clearsky(times, model="ineichen", solar_position=solpos)


def clear_sky(site: SiteSpec, times: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sun's position (:func:`solar_position`) and the clear-sky irradiance (:func:`clearsky_irradiance`)
    at ``times``: the ``sky`` that :func:`clearsky_ac_power_kw` takes when many arrays share one place."""
    solpos = solar_position(site, times)
    return solpos, clearsky_irradiance(site, times, solpos)


def surface_angles_deg(device: DeviceSpec, solpos: pd.DataFrame) -> tuple[Any, Any]:
    """Tilt and azimuth (degrees) of ``device``'s modules at each sun position of ``solpos``: its fixed
    ones, or a single-axis tracker's (pvlib ``singleaxis``, backtracking, flat with the panel facing up at
    night)."""
    if device.tracking != "single_axis":
        return device.surface_tilt_deg, device.surface_azimuth_deg
    angles = pvlib.tracking.singleaxis(
        solpos["apparent_zenith"], solpos["azimuth"], axis_tilt=device.surface_tilt_deg,
        axis_azimuth=device.surface_azimuth_deg, max_angle=device.max_angle_deg, backtrack=True, gcr=device.gcr,
    )
    return (angles["surface_tilt"].fillna(device.surface_tilt_deg),
            angles["surface_azimuth"].fillna((device.surface_azimuth_deg + 90.0) % 360.0))


def poa_irradiance_w_m2(
    site: SiteSpec,
    device: DeviceSpec,
    times: pd.DatetimeIndex,
    ghi: pd.Series,
    dni: pd.Series,
    dhi: pd.Series,
    solpos: pd.DataFrame | None = None,
) -> pd.Series:
    """Plane-of-array global irradiance (W/m²), isotropic sky diffuse, albedo 0.2, on the device's fixed or
    tracking plane (:func:`surface_angles_deg`)."""
    solpos = solpos if solpos is not None else solar_position(site, times)
    tilt, azimuth = surface_angles_deg(device, solpos)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=tilt,
        surface_azimuth=azimuth,
        solar_zenith=solpos["apparent_zenith"],
        solar_azimuth=solpos["azimuth"],
        dni=dni,
        ghi=ghi,
        dhi=dhi,
        albedo=0.2,
        model="isotropic",
    )
    return poa["poa_global"].fillna(0.0).clip(lower=0.0).rename("poa_w_m2")


def cell_temperature_c(
    poa_w_m2: pd.Series | np.ndarray, ambient_temp_c: pd.Series | np.ndarray | float, wind_speed_m_s: float = 1.0
) -> pd.Series | np.ndarray:
    """Cell temperature (°C), SAPM model for an open-rack glass/polymer module."""
    return pvlib.temperature.sapm_cell(poa_w_m2, ambient_temp_c, wind_speed_m_s, **_SAPM_PARAMS)


def module_temperature_c(
    poa_w_m2: pd.Series | np.ndarray, ambient_temp_c: pd.Series | np.ndarray | float, wind_speed_m_s: float = 1.0
) -> pd.Series | np.ndarray:
    """Module back-surface temperature (°C), SAPM model (what a back-sheet sensor measures)."""
    return pvlib.temperature.sapm_module(poa_w_m2, ambient_temp_c, wind_speed_m_s, _SAPM_PARAMS["a"], _SAPM_PARAMS["b"])


def expected_dc_power_kw(
    poa_w_m2: pd.Series | np.ndarray, cell_temp_c: pd.Series | np.ndarray, device: DeviceSpec
) -> pd.Series | np.ndarray:
    """PVWatts DC power (kW) from POA irradiance and cell temperature."""
    return pvlib.pvsystem.pvwatts_dc(poa_w_m2, cell_temp_c, device.dc_capacity_kw, device.gamma_pdc_per_c)


def expected_ac_power_kw(dc_power_kw: pd.Series | np.ndarray, device: DeviceSpec) -> pd.Series | np.ndarray:
    """PVWatts inverter (kW): part-load efficiency curve and clipping at ``ac_capacity_kw``."""
    pdc0 = device.ac_capacity_kw / device.inverter_efficiency
    ac = pvlib.inverter.pvwatts(dc_power_kw, pdc0, eta_inv_nom=device.inverter_efficiency)
    return np.clip(ac, 0.0, device.ac_capacity_kw) if isinstance(ac, np.ndarray) else ac.clip(0.0, device.ac_capacity_kw)


def clearsky_ac_power_kw(
    site: SiteSpec, times: pd.DatetimeIndex, device: DeviceSpec | None = None, ambient_temp_c: float = 20.0,
    sky: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> pd.Series:
    """Expected AC power (kW) under clear sky for one inverter, or the whole site when ``device`` is None.
    ``sky``: :func:`clear_sky` at ``times``, when already computed for the same place (many candidate arrays)."""
    solpos, cs = sky if sky is not None else clear_sky(site, times)
    devices = [device] if device is not None else list(site.inverters)
    total = pd.Series(0.0, index=times)
    for dev in devices:
        poa = poa_irradiance_w_m2(site, dev, times, cs["ghi"], cs["dni"], cs["dhi"], solpos)
        tcell = cell_temperature_c(poa, ambient_temp_c)
        total = total + pd.Series(np.asarray(expected_ac_power_kw(expected_dc_power_kw(poa, tcell, dev), dev)), index=times)
    return total.rename("clearsky_ac_power_kw")
