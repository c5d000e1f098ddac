"""Solar context of a forecast: clear-sky AC power, sun position and the clear-sky index.

Conventions used by the whole forecasting package:

* A power series is a :class:`pandas.Series` of site AC power in **kW** on a tz-aware UTC
  :class:`~pandas.DatetimeIndex` at **15-minute** resolution, each value labelled by the
  **start** of its interval (like ``readings_15m.bucket``). The value labelled ``τ`` is the mean
  over ``[τ, τ + 15 min)`` and is therefore *available* from ``τ + 15 min`` on.
* The clear-sky index (CSI, dimensionless) is ``k = P / P_cs`` where ``P_cs`` is the site's
  clear-sky AC power from :func:`heliosgrid.physics.clearsky_ac_power_kw` (Ineichen clear sky,
  PVWatts DC/AC), evaluated at the interval midpoint and multiplied by a per-site scale factor
  fitted on training history (real plants rarely match their nameplate model exactly).
* ``k`` is only defined in daylight where ``P_cs`` is at least ``CSI_MIN_CLEARSKY_FRACTION`` of
  capacity; elsewhere it is NaN (the power there is small and the ratio meaningless).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from heliosgrid.physics import clearsky_ac_power_kw, clearsky_irradiance, solar_position
from heliosgrid.physics.fleet import TRACKER_AXIS_TILT_DEG, DeviceSpec, SiteSpec, Tracking, default_azimuth_deg

STEP = pd.Timedelta(minutes=15)
STEPS_PER_DAY = 96
CSI_MIN_CLEARSKY_FRACTION = 0.05
CSI_MAX = 1.6
#: Tilt (degrees) of a fixed array whose tilt is not given (a typical rooftop or ground array).
DEFAULT_TILT_DEG = 25.0
#: Default DC/AC ratio assumed when a site is described only by its AC capacity.
DEFAULT_DC_AC_RATIO = 1.15


class ForecastInputError(ValueError):
    """Input data cannot be used for forecasting (message says exactly why)."""


def site_from_capacity(
    site_id: str,
    latitude_deg: float,
    longitude_deg: float,
    capacity_kw: float,
    *,
    altitude_m: float = 0.0,
    timezone: str = "UTC",
    surface_tilt_deg: float | None = None,
    surface_azimuth_deg: float | None = None,
    tracking: Tracking = "fixed",
) -> SiteSpec:
    """A one-inverter :class:`SiteSpec` for a plant known only by location and AC capacity (kW).

    Assumes an array with DC capacity ``DEFAULT_DC_AC_RATIO × capacity_kw``: fixed, tilted 25° and facing the
    equator unless ``surface_tilt_deg`` / ``surface_azimuth_deg`` (degrees, azimuth east of north) are given;
    or a single-axis tracker (``tracking="single_axis"``) whose axis has that tilt and azimuth (a horizontal
    north–south axis when not given).
    """
    if not capacity_kw > 0:
        raise ForecastInputError(f"capacity must be > 0 kW, got {capacity_kw}")
    if not -90 <= latitude_deg <= 90:
        raise ForecastInputError(f"latitude must be within [-90, 90] degrees, got {latitude_deg}")
    if not -180 <= longitude_deg <= 180:
        raise ForecastInputError(f"longitude must be within [-180, 180] degrees, got {longitude_deg}")
    inverter = DeviceSpec(
        device_id=f"{site_id}-inv01",
        site_id=site_id,
        kind="inverter",
        surface_tilt_deg=(surface_tilt_deg if surface_tilt_deg is not None
                          else TRACKER_AXIS_TILT_DEG if tracking == "single_axis" else DEFAULT_TILT_DEG),
        surface_azimuth_deg=(surface_azimuth_deg if surface_azimuth_deg is not None
                             else default_azimuth_deg(latitude_deg, tracking)),
        dc_capacity_kw=capacity_kw * DEFAULT_DC_AC_RATIO,
        ac_capacity_kw=capacity_kw,
        tracking=tracking,
    )
    return SiteSpec(site_id, site_id, latitude_deg, longitude_deg, altitude_m, timezone, (inverter,))


def regular_grid(series: pd.Series, end_exclusive: pd.Timestamp | None = None) -> pd.Series:
    """Reindex ``series`` onto the regular 15-min grid from its first label up to ``end_exclusive``.

    Missing intervals become NaN. ``end_exclusive`` defaults to the last label + 15 min.
    """
    if series.empty:
        return series.astype(float)
    start = series.index[0]
    stop = (end_exclusive if end_exclusive is not None else series.index[-1] + STEP) - STEP
    grid = pd.date_range(start, stop, freq=STEP, tz="UTC") if stop >= start else pd.DatetimeIndex([], tz="UTC")
    return series.reindex(grid).astype(float)


@dataclass
class SolarContext:
    """Clear-sky model of one site, with a cache of clear-sky power and sun position.

    ``capacity_kw`` is the AC limit every forecast is clipped to. ``clearsky_scale`` multiplies the
    physics clear-sky power (fitted by :meth:`fit_scale`).
    """

    site: SiteSpec
    capacity_kw: float
    clearsky_scale: float = 1.0
    _cache: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_cache"] = None  # never pickle the cache
        return state

    # -- clear sky ---------------------------------------------------------------------------
    def _compute(self, times: pd.DatetimeIndex) -> pd.DataFrame:
        mid = times + STEP / 2
        solpos = solar_position(self.site, mid)
        cs = clearsky_ac_power_kw(self.site, mid).to_numpy()
        ghi_clear = clearsky_irradiance(self.site, mid, solpos)["ghi"].to_numpy()
        elevation = solpos["apparent_elevation"].to_numpy()
        cs = np.where(elevation > 0, cs, 0.0)
        return pd.DataFrame(
            {
                "clearsky_raw_kw": cs,
                "elevation_deg": elevation,
                "azimuth_deg": solpos["azimuth"].to_numpy(),
                "ghi_clear_w_m2": ghi_clear,
            },
            index=times,
        )

    def _ensure_cache(self, times: pd.DatetimeIndex) -> pd.DataFrame:
        """The clear-sky cache, extended (by whole days, computing only the missing ranges) to cover ``times``."""
        cache = self._cache
        if cache is None or times.min() < cache.index[0] or times.max() > cache.index[-1]:
            # extend the cache by whole days, computing only the missing ranges
            lo = times.min().floor("D") - pd.Timedelta(days=1)
            hi = times.max().ceil("D") + pd.Timedelta(days=7)
            if cache is None:
                cache = self._compute(pd.date_range(lo, hi, freq=STEP, tz="UTC"))
            else:
                parts = [cache]
                if lo < cache.index[0]:
                    parts.insert(0, self._compute(pd.date_range(lo, cache.index[0] - STEP, freq=STEP, tz="UTC")))
                if hi > cache.index[-1]:
                    parts.append(self._compute(pd.date_range(cache.index[-1] + STEP, hi, freq=STEP, tz="UTC")))
                cache = pd.concat(parts)
            self._cache = cache
        return cache

    def table(self, times: pd.DatetimeIndex) -> pd.DataFrame:
        """Columns ``clearsky_kw`` (scaled, clipped to capacity), ``elevation_deg``, ``azimuth_deg``,
        ``ghi_clear_w_m2`` (Ineichen clear-sky GHI).

        ``times`` are interval-start labels on the 15-min grid; values are for interval midpoints.
        """
        if len(times) == 0:
            return pd.DataFrame(columns=["clearsky_kw", "elevation_deg", "azimuth_deg", "ghi_clear_w_m2"], index=times,
                                dtype=float)
        cache = self._ensure_cache(times)
        offset_ns = times.asi8 - cache.index[0].value
        step_ns = STEP.value
        if (offset_ns % step_ns == 0).all():  # on the grid: positional lookup (fast path)
            rows = cache.to_numpy()[offset_ns // step_ns]
            out = pd.DataFrame(rows, index=times, columns=cache.columns)
        else:  # off-grid labels: compute directly
            out = self._compute(times)
        res = out[["elevation_deg", "azimuth_deg", "ghi_clear_w_m2"]].copy()
        res.insert(0, "clearsky_kw", np.minimum(out["clearsky_raw_kw"].to_numpy() * self.clearsky_scale, self.capacity_kw))
        return res

    def clearsky_kw(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Scaled clear-sky AC power (kW) for interval labels ``times``; 0 at night."""
        if len(times) == 0:
            return np.zeros(0)
        cache = self._ensure_cache(times)
        offset_ns = times.asi8 - cache.index[0].value
        if (offset_ns % STEP.value == 0).all():  # on the grid: one column by position, no frame built
            raw = cache["clearsky_raw_kw"].to_numpy()[offset_ns // STEP.value]
            return np.asarray(np.minimum(raw * self.clearsky_scale, self.capacity_kw))
        return self.table(times)["clearsky_kw"].to_numpy()

    def fit_scale(self, history: pd.Series, quantile: float = 0.98) -> float:
        """Fit ``clearsky_scale`` so that the ``quantile`` of P/P_cs in bright hours is 1.

        Uses only ``history`` (training data); falls back to 1.0 with fewer than 50 usable points.
        """
        h = history.dropna()
        if h.empty:
            self.clearsky_scale = 1.0
            return 1.0
        raw = self.table(pd.DatetimeIndex(h.index))["clearsky_kw"].to_numpy() / max(self.clearsky_scale, 1e-9)
        bright = raw > 0.3 * np.nanmax(raw) if np.nanmax(raw) > 0 else np.zeros_like(raw, dtype=bool)
        if bright.sum() < 50:
            self.clearsky_scale = 1.0
            return 1.0
        ratio = h.to_numpy()[bright] / raw[bright]
        scale = float(np.quantile(ratio, quantile))
        self.clearsky_scale = float(np.clip(scale, 0.05, 20.0))
        return self.clearsky_scale

    # -- clear-sky index -----------------------------------------------------------------------
    def daylight_mask(self, clearsky_kw: np.ndarray) -> np.ndarray:
        """True where the clear-sky index is defined (clear-sky power ≥ 5 % of capacity)."""
        return clearsky_kw >= CSI_MIN_CLEARSKY_FRACTION * self.capacity_kw

    def csi(self, series: pd.Series) -> pd.Series:
        """Clear-sky index of a power series (NaN outside daylight or where power is NaN)."""
        cs = self.clearsky_kw(pd.DatetimeIndex(series.index))
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(self.daylight_mask(cs), series.to_numpy(dtype=float) / cs, np.nan)
        return pd.Series(np.clip(k, 0.0, CSI_MAX), index=series.index, name="csi")

    def to_power(self, k: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
        """Power (kW) from clear-sky index ``k`` at ``times``: 0 at night, within [0, capacity]."""
        cs = self.clearsky_kw(times)
        return np.clip(np.nan_to_num(k, nan=0.0) * cs, 0.0, self.capacity_kw)
