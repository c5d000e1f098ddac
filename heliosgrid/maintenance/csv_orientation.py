"""Array tilt and azimuth of an operator's CSV when the operator does not know them.

The detectors need the plane of the array: to transpose GHI onto it, for the clear-sky POA that
tells clear buckets from cloudy ones and low sun from a trip, and for the angle of incidence.
Operators of small plants often know the place and the nameplate, not the tilt. Two fits:

* **With GHI** (satellite or pyranometer): pvanalytics' PVWatts fit
  (:func:`pvanalytics.system.infer_orientation_fit_pvwatts`) of the AC power against the pvlib
  clear-sky (Ineichen) components, on clear periods (GHI within 3 % of clear-sky GHI, clear-sky GHI
  > 200 W/m², AC > 2 % of the series' maximum) — as the wheel's PVDAQ 50 series is oriented
  (:func:`heliosgrid.maintenance.realdata._fit_orientation`).
* **Otherwise** (a POA sensor, or too few clear GHI periods): the forecast's shape fit
  (:func:`heliosgrid.forecast.solar.infer_orientation`), the orientation whose clear-sky power
  profile makes the 95th percentile of P / P_cs flattest over the day (tilt 10–40°, azimuth from east
  through the equator-facing direction to west; both ways in the tropics).
* Too little data for either (about a week of bright hours): :data:`DEFAULT_TILT_DEG`, facing the
  equator.

Either way the result is a warning that says what was inferred and from what.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.physics.fleet import equator_facing_azimuth_deg

MIN_CLEAR_PERIODS = 50
"""Fewer clear GHI periods than this and the PVWatts fit is not trusted (the shape fit is used)."""


def _pvwatts_fit(
    frame: pd.DataFrame, solpos: pd.DataFrame, where: tuple[float, float, float], cadence_s: int
) -> tuple[float, float] | None:
    """(tilt, azimuth) in degrees from the clear GHI periods, or None with too few of them."""
    import pvlib
    from pvanalytics.system import infer_orientation_fit_pvwatts

    loc = pvlib.location.Location(where[0], where[1], altitude=where[2])
    index = pd.DatetimeIndex(frame.index)
    clear_sky = loc.get_clearsky(index + pd.Timedelta(seconds=cadence_s / 2)).set_axis(index)
    ac, ghi = frame["ac_power_kw"], frame["ghi_w_m2"]
    clear = (clear_sky["ghi"] > 200.0) & ((ghi / clear_sky["ghi"] - 1.0).abs() < 0.03) & (ac > 0.02 * float(ac.max()))
    if "ambient_temp_c" in frame:
        clear &= frame["ambient_temp_c"].notna()
    if int(clear.sum()) < MIN_CLEAR_PERIODS:
        return None
    part = clear_sky[clear]
    # The fit starts at azimuth 180° within [0°, 360°]: south of the equator an array facing north
    # (0°) lies at both bounds. The sun's azimuth is turned by 180° there and the fit's turned back: the
    # angle of incidence depends only on the difference of the two azimuths.
    turn = equator_facing_azimuth_deg(where[0]) - 180.0
    tilt, azimuth, *_ = infer_orientation_fit_pvwatts(
        ac[clear], part["ghi"], part["dhi"], part["dni"], solpos.loc[part.index, "zenith"],
        (solpos.loc[part.index, "azimuth"] - turn) % 360.0,
        temperature=frame["ambient_temp_c"][clear] if "ambient_temp_c" in frame else 25.0,
    )
    if not (np.isfinite(tilt) and np.isfinite(azimuth)):
        return None
    return round(float(tilt), 1), round((float(azimuth) + turn) % 360.0, 1)


def _shape_fit(ac_kw: pd.Series, where: tuple[float, float, float]) -> tuple[float, float] | None:
    """(tilt, azimuth) in degrees from the AC power's clear-day shape alone, or None with too little
    bright data to compare shapes (about a week)."""
    from heliosgrid.forecast.solar import infer_orientation, site_from_capacity

    capacity_kw = float(ac_kw.max())
    site = site_from_capacity("orientation", where[0], where[1], capacity_kw, altitude_m=where[2], timezone="UTC")
    fitted = infer_orientation(ac_kw.clip(lower=0.0).resample("15min").mean(), site, capacity_kw)
    if fitted is site:
        return None
    return fitted.devices[0].surface_tilt_deg, fitted.devices[0].surface_azimuth_deg


DEFAULT_TILT_DEG = 25.0
"""Tilt assumed when the data cannot tell (a typical fixed rooftop or ground array)."""


def infer_csv_orientation(
    frame: pd.DataFrame, solpos: pd.DataFrame | None, where: tuple[float, float, float], cadence_s: int
) -> tuple[float, float, str]:
    """(tilt °, azimuth ° east of north, warning) of the array behind ``frame`` (UTC-indexed readings:
    ``ac_power_kw`` in kW, optional ``ghi_w_m2`` W/m² with ``solpos`` its pvlib solar position)."""
    fit = _pvwatts_fit(frame, solpos, where, cadence_s) if "ghi_w_m2" in frame and solpos is not None else None
    how = "inferred from the PVWatts fit of the AC power to clear-sky irradiance on clear GHI periods"
    if fit is None:
        fit = _shape_fit(frame["ac_power_kw"], where)
        how = "inferred from the clear-day shape of the AC power"
    if fit is None:  # equator-facing at a typical tilt
        fit = (DEFAULT_TILT_DEG, equator_facing_azimuth_deg(where[0]))
        how = "assumed (too little clear data to infer them; the fits need about a week)"
    tilt, azimuth = fit
    return tilt, azimuth, f"--tilt/--azimuth not given: tilt {tilt:g}°, azimuth {azimuth:g}° {how}; give them if you know them"
