"""A real plant's weather under another geometry, for tests of what depends on the array's mount and place.

No real PV series south of the equator, and no real tracker longer than 6 days, ships in the installed
wheels. These keep the real part of one (PVDAQ system 50's clear-sky indices of AC power and GHI, and its
air temperature: the clouds, the meter's noise, the gaps) and replace the geometry:

* :func:`southern_readings`: the indices read at the same true solar time 182 days earlier (winter stays
  winter), under the clear sky of a north-facing array near Sydney;
* :func:`tracker_readings`: the AC index, at the same times, under the clear sky of a single-axis tracker at
  the same place (the GHI is the site's own).

The true mount is known, so orientation fits can be checked against it. The AC index was taken against a
fixed array's clear sky, so under diffuse light these series keep a fixed array's response: good for
geometry, not for judging detectors' scatter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.forecast.solar import site_from_capacity
from heliosgrid.maintenance.realdata import pvdaq50
from heliosgrid.physics import clearsky_ac_power_kw, clearsky_irradiance
from heliosgrid.physics.fleet import SiteSpec

#: Latitude, longitude (degrees), altitude (m) of the southern site.
SOUTH_WHERE = (-33.86, 151.21, 40.0)
SOUTH_TILT_DEG, SOUTH_AZIMUTH_DEG = 25.0, 0.0
SOUTH_AC_KW = 5.0
HALF_YEAR = pd.Timedelta(days=182)


def southern_site() -> SiteSpec:
    """The north-facing 5 kW array the transplanted series is made for."""
    return site_from_capacity("south", SOUTH_WHERE[0], SOUTH_WHERE[1], SOUTH_AC_KW, altitude_m=SOUTH_WHERE[2],
                              surface_tilt_deg=SOUTH_TILT_DEG, surface_azimuth_deg=SOUTH_AZIMUTH_DEG)


def _true_solar_min(index: pd.DatetimeIndex, longitude_deg: float) -> np.ndarray:
    """Minutes since the epoch in apparent solar time at ``longitude_deg`` (Spencer's equation of time)."""
    import pvlib

    eot = np.asarray(pvlib.solarposition.equation_of_time_spencer71(index.dayofyear))
    return np.asarray(index.asi8 // 1000, dtype=float) / 6e7 + 4.0 * longitude_deg + eot


def southern_readings(window: str = "2013-05") -> pd.DataFrame:
    """30 days of 15-min readings (``ts`` UTC interval start, ``ac_power_kw`` kW, ``ghi_w_m2`` W/m²,
    ``ambient_temp_c`` °C) of :func:`southern_site`, 182 days after PVDAQ 50's ``window``."""
    north = pvdaq50(window)
    r = north.readings
    ts_n = pd.DatetimeIndex(r["ts"]) + pd.Timedelta(minutes=7.5)
    cs_ac_n = clearsky_ac_power_kw(north.site, ts_n).to_numpy()
    cs_ghi_n = clearsky_irradiance(north.site, ts_n)["ghi"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        k_ac = np.where(cs_ac_n > 0.05 * np.nanmax(cs_ac_n), r["ac_power_kw"].to_numpy() / cs_ac_n, np.nan)
        k_ghi = np.where(cs_ghi_n > 20.0, r["ghi_w_m2"].to_numpy() / cs_ghi_n, np.nan)
    k_ac = np.clip(k_ac / np.nanpercentile(k_ac, 95), 0.0, 1.3)
    k_ghi = np.clip(k_ghi, 0.0, 1.4)
    site = southern_site()
    start = pd.DatetimeIndex(r["ts"])[0].floor("D") + HALF_YEAR
    ts_s = pd.date_range(start, periods=len(r), freq="15min")
    mid_s = ts_s + pd.Timedelta(minutes=7.5)
    at_n = _true_solar_min(mid_s, SOUTH_WHERE[1]) - HALF_YEAR.total_seconds() / 60.0
    solar_n = _true_solar_min(ts_n, north.site.longitude_deg)

    def read(values: np.ndarray) -> np.ndarray:
        ok = np.isfinite(values)
        return np.interp(at_n, solar_n[ok], values[ok])

    cs_ac_s = clearsky_ac_power_kw(site, mid_s).to_numpy()
    cs_ghi_s = clearsky_irradiance(site, mid_s)["ghi"].to_numpy()
    return pd.DataFrame({"ts": ts_s, "ac_power_kw": np.clip(read(k_ac) * cs_ac_s, 0.0, SOUTH_AC_KW),
                         "ghi_w_m2": read(k_ghi) * cs_ghi_s,
                         "ambient_temp_c": read(r["ambient_temp_c"].to_numpy(dtype=float))})


def tracker_readings(window: str = "2013-05") -> tuple[pd.DataFrame, SiteSpec]:
    """30 days of PVDAQ 50's ``window`` (``ts``, ``ac_power_kw``, ``ghi_w_m2``, ``ambient_temp_c``) with the AC
    power of a 3 kW single-axis tracker (horizontal north–south axis, ±60°) at the same place, and that site."""
    north = pvdaq50(window)
    r = north.readings
    mid = pd.DatetimeIndex(r["ts"]) + pd.Timedelta(minutes=7.5)
    cs_fixed = clearsky_ac_power_kw(north.site, mid).to_numpy()
    site = site_from_capacity("tracker", north.site.latitude_deg, north.site.longitude_deg, 3.0,
                              altitude_m=north.site.altitude_m, tracking="single_axis")
    cs_tracker = clearsky_ac_power_kw(site, mid).to_numpy()
    bright = cs_fixed > 0.1 * np.nanmax(cs_fixed)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.clip(r["ac_power_kw"].to_numpy() / cs_fixed, 0.0, 1.3)
    ac = np.where(bright, k * cs_tracker, 0.0)
    return pd.DataFrame({"ts": r["ts"].to_numpy(), "ac_power_kw": np.where(r["ac_power_kw"].isna(), np.nan, ac),
                         "ghi_w_m2": r["ghi_w_m2"].to_numpy(), "ambient_temp_c": r["ambient_temp_c"].to_numpy()}), site
