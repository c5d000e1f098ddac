"""Plant physics shared by the simulator, maintenance and forecasting (pvlib underneath).

Conventions (pvlib's): angles in degrees, azimuth east of north (180 = south), irradiance W/m²,
temperature °C, power kW, times as tz-aware :class:`pandas.DatetimeIndex`.
"""

from heliosgrid.physics.fleet import DeviceSpec, SiteSpec, demo_fleet, load_fleet
from heliosgrid.physics.model import (
    cell_temperature_c,
    clear_sky,
    clearsky_ac_power_kw,
    clearsky_irradiance,
    expected_ac_power_kw,
    expected_dc_power_kw,
    poa_irradiance_w_m2,
    solar_position,
    surface_angles_deg,
)

__all__ = [
    "DeviceSpec",
    "SiteSpec",
    "cell_temperature_c",
    "clear_sky",
    "clearsky_ac_power_kw",
    "clearsky_irradiance",
    "demo_fleet",
    "expected_ac_power_kw",
    "expected_dc_power_kw",
    "load_fleet",
    "poa_irradiance_w_m2",
    "solar_position",
    "surface_angles_deg",
]
