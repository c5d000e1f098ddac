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
  (:func:`heliosgrid.forecast.orientation.infer_orientation`), the orientation whose clear-sky power
  profile makes the 95th percentile of P / P_cs flattest over the day (tilt 10–40°, azimuth from east
  through the equator-facing direction to west; both ways in the tropics).
* A single-axis tracker is told by the shape fit alone, whatever the irradiance: its clear-day profile is
  flat through the day as no fixed array's is (the PVWatts fit knows fixed arrays only).
* Too little data for either (about a week of bright hours): :data:`heliosgrid.forecast.solar.DEFAULT_TILT_DEG`, facing the
  equator.

Either way the result is a warning that says what was inferred and from what.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from heliosgrid.forecast.solar import DEFAULT_TILT_DEG, site_from_capacity
from heliosgrid.physics.fleet import DeviceSpec, Tracking, equator_facing_azimuth_deg

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


class Mount(NamedTuple):
    """How the modules are held: fixed at ``tilt_deg`` / ``azimuth_deg`` (degrees, azimuth east of north), or a
    single-axis tracker (``tracking="single_axis"``) whose axis has that tilt and azimuth."""

    tilt_deg: float
    azimuth_deg: float
    tracking: Tracking = "fixed"

    def device(self) -> DeviceSpec:
        """A device with this mount, for :func:`heliosgrid.physics.model.surface_angles_deg`."""
        return DeviceSpec("mount", "mount", "inverter", self.tilt_deg, self.azimuth_deg, tracking=self.tracking)

    def said(self) -> str:
        if self.tracking == "single_axis":
            return f"a single-axis tracker (axis tilt {self.tilt_deg:g}°, azimuth {self.azimuth_deg:g}°)"
        return f"tilt {self.tilt_deg:g}°, azimuth {self.azimuth_deg:g}°"


def _shape_fit(ac_kw: pd.Series, where: tuple[float, float, float]) -> Mount | None:
    """The mount from the AC power's clear-day shape alone (a fixed array or a single-axis tracker,
    :func:`heliosgrid.forecast.orientation.infer_orientation`), or None with too little bright data to compare
    shapes (about a week)."""
    from heliosgrid.forecast.orientation import infer_orientation

    capacity_kw = float(ac_kw.max())
    site = site_from_capacity("orientation", where[0], where[1], capacity_kw, altitude_m=where[2], timezone="UTC")
    fitted = infer_orientation(ac_kw.clip(lower=0.0).resample("15min").mean(), site, capacity_kw)
    if fitted is site:
        return None
    dev = fitted.devices[0]
    return Mount(dev.surface_tilt_deg, dev.surface_azimuth_deg, dev.tracking)


def infer_csv_orientation(
    frame: pd.DataFrame, solpos: pd.DataFrame | None, where: tuple[float, float, float], cadence_s: int
) -> tuple[Mount, str]:
    """The mount of the array behind ``frame`` (UTC-indexed readings: ``ac_power_kw`` in kW, optional
    ``ghi_w_m2`` W/m² with ``solpos`` its pvlib solar position) and the warning that says how it was found.
    A tracker is told by the shape fit (the PVWatts fit knows fixed arrays only)."""
    shape = _shape_fit(frame["ac_power_kw"], where)
    if shape is not None and shape.tracking == "single_axis":
        return shape, (f"--tilt/--azimuth not given: {shape.said()} inferred from the clear-day shape of the AC power "
                       "(flat through the day, as no fixed array is); give --tracking/--tilt/--azimuth if you know them")
    fitted = _pvwatts_fit(frame, solpos, where, cadence_s) if "ghi_w_m2" in frame and solpos is not None else None
    mount, how = (Mount(*fitted), "inferred from the PVWatts fit of the AC power to clear-sky irradiance on clear GHI "
                  "periods") if fitted is not None else (shape, "inferred from the clear-day shape of the AC power")
    if mount is None:  # equator-facing at a typical tilt
        mount = Mount(DEFAULT_TILT_DEG, equator_facing_azimuth_deg(where[0]))
        how = "assumed (too little clear data to infer them; the fits need about a week)"
    return mount, f"--tilt/--azimuth not given: {mount.said()} {how}; give them if you know them"
