"""The array behind a power series when nobody says: fixed plane (tilt, azimuth) or single-axis tracker.

Used on training data only, for plants known by a place and a nameplate (``forecast backtest --csv`` without
``--tilt/--azimuth``, the maintenance CSV evaluation's shape fit). For each candidate mount the 95th percentile
of P / P_cs is taken per hour of the day over bright intervals: the right mount makes that profile flat.

* Fixed planes (ADR 0640): tilts 10–40°, azimuths from east through the equator-facing direction to west
  (both ways in the tropics); the flattest profile (standard deviation of its log) wins.
* Single-axis trackers (ADR 0650): horizontal north–south axis, ±45° or ±60°, backtracking. A tracker's clear
  day is flat from mid-morning to mid-afternoon, a fixed plane's is a dome; but a fixed plane whose inverter
  clips (DC/AC ≥ 1.5) is flat-topped too. The decision is therefore taken on the hours the inverter did not
  clip, against each candidate's unclipped (DC-shaped) clear sky, by the robust spread (median absolute
  deviation) of the profile: a tracker must be below :data:`TRACKER_MAD_RATIO` of the best fixed plane.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from heliosgrid.forecast.solar import STEP, site_from_capacity
from heliosgrid.physics import clear_sky, clearsky_ac_power_kw
from heliosgrid.physics.fleet import SiteSpec, Tracking, equator_facing_azimuth_deg

#: Candidate azimuths of the orientation search, degrees from the equator-facing direction (east −90 …
#: west +90 in the northern hemisphere; mirrored in the southern).
AZIMUTH_OFFSETS_DEG = (-90.0, -60.0, -45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0, 60.0, 90.0)
#: Latitude (degrees) within which the sun passes on both sides of the zenith over a year (the tropics):
#: an array there may face either pole, so both hemispheres' candidates are searched.
TROPIC_DEG = 23.44


def candidate_azimuths_deg(latitude_deg: float) -> tuple[float, ...]:
    """Azimuths (degrees east of north, in [0, 360)) searched by :func:`infer_orientation` at
    ``latitude_deg``: from east through the equator-facing direction to west; in the tropics, through
    both the south and the north."""
    facing = [equator_facing_azimuth_deg(latitude_deg)]
    if abs(latitude_deg) < TROPIC_DEG:
        facing = [180.0, 0.0]
    out: list[float] = []
    for f in facing:
        out += [(f + d) % 360.0 for d in AZIMUTH_OFFSETS_DEG if (f + d) % 360.0 not in out]
    return tuple(out)


def with_devices(site: SiteSpec, **changes: object) -> SiteSpec:
    """``site`` with ``changes`` (:class:`DeviceSpec` fields) applied to each of its devices."""
    return replace(site, devices=tuple(replace(d, **changes) for d in site.devices))  # type: ignore[arg-type]


#: Single-axis trackers tried by :func:`infer_orientation` (horizontal north–south axis, backtracking):
#: rotation limits, degrees either side of flat.
TRACKER_MAX_ANGLES_DEG = (45.0, 60.0)
#: A tracker is inferred only when the robust spread (median absolute deviation) of its profile is below this
#: share of the best fixed plane's (the first and last hours of a day, with horizon and shading, sway the
#: plain spread).
TRACKER_MAD_RATIO = 0.7


#: A reading at or above this share of the series' maximum is taken as clipped by the inverter.
CLIPPED_SHARE = 0.97
#: An hour of the day whose bright readings are clipped this often is left out of the tracker decision.
CLIPPED_HOUR_SHARE = 0.1


Sky = tuple[pd.DataFrame, pd.DataFrame]
"""The sun's position and the clear-sky irradiance at the interval midpoints of a series, shared by the candidates."""


def _sky(site: SiteSpec, index: pd.DatetimeIndex) -> Sky:
    return clear_sky(site, index + STEP / 2)


def _shape_profile(h: pd.Series, cand: SiteSpec, capacity_kw: float, sky: Sky | None = None) -> np.ndarray | None:
    """Log of the 95th percentile of P / P_cs per hour of the day (``h``: bright power, kW) for candidate
    site ``cand`` (``sky``: :func:`_sky` of ``h``'s index, computed once for all candidates); None with too
    few bright hours."""
    cs = clearsky_ac_power_kw(cand, pd.DatetimeIndex(h.index) + STEP / 2, sky=sky).to_numpy()
    ok = cs > 0.15 * capacity_kw
    if ok.sum() < 50:
        return None
    ratio = pd.Series(h.to_numpy()[ok] / cs[ok], index=h.index[ok])
    q = ratio.groupby(ratio.index.hour).quantile(0.95)
    q = q[ratio.groupby(ratio.index.hour).size() >= 10]
    if len(q) < 4 or (q <= 0).any():
        return None
    return np.log(q.to_numpy())


def _unclipped_hours(h: pd.Series) -> np.ndarray:
    """Which readings of ``h`` (bright power, kW) lie outside the hours of the day in which the inverter
    clipped (ADR 0650)."""
    clipped = (h >= CLIPPED_SHARE * float(h.max())).groupby(h.index.hour).transform("mean")
    return np.asarray(clipped.to_numpy() < CLIPPED_HOUR_SHARE)


def _unclipped(site: SiteSpec) -> SiteSpec:
    """``site`` with inverters twice the DC size: its clear sky keeps the DC shape (PVWatts' part-load
    efficiency stays on its curve), never clipped."""
    return replace(site, devices=tuple(replace(d, ac_capacity_kw=2.0 * d.dc_capacity_kw) for d in site.devices))


def _mad(values: np.ndarray) -> float:
    return float(np.median(np.abs(values - np.median(values))))


def _tracker_decision_mads(h: pd.Series, fixed: list[SiteSpec], trackers: list[SiteSpec],
                           capacity_kw: float, sky: Sky | None = None) -> tuple[float, float] | None:
    """Robust spread of the flattest fixed plane's and tracker's profiles on the unclipped hours, against
    each candidate's unclipped (DC-shaped) clear sky; None when too few hours are left to tell."""
    keep = _unclipped_hours(h)
    part = h[keep]
    part_sky = (sky[0][keep], sky[1][keep]) if sky is not None else _sky(fixed[0], pd.DatetimeIndex(part.index))

    def best(cands: list[SiteSpec]) -> float | None:
        mads = [_mad(prof) for c in cands
                if (prof := _shape_profile(part, _unclipped(c), capacity_kw, part_sky)) is not None]
        return min(mads) if mads else None

    fixed_mad, tracker_mad = best(fixed), best(trackers)
    return None if fixed_mad is None or tracker_mad is None else (fixed_mad, tracker_mad)


def infer_orientation(
    history: pd.Series,
    site: SiteSpec,
    capacity_kw: float,
    tilts_deg: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0),
    azimuths_deg: tuple[float, ...] | None = None,
) -> SiteSpec:
    """Site with the fixed tilt/azimuth (degrees), or the single-axis tracker, whose clear-sky shape best
    fits ``history`` (kW; module docstring).

    The fixed candidate with the flattest profile (smallest standard deviation of its log across hours)
    wins, unless a single-axis tracker (:data:`TRACKER_MAX_ANGLES_DEG`) has a profile whose median absolute
    deviation, on the unclipped hours, is below :data:`TRACKER_MAD_RATIO` of the fixed planes'. Azimuths
    default to :func:`candidate_azimuths_deg` of the site's latitude. Use it only on training data.
    """
    if azimuths_deg is None:
        azimuths_deg = candidate_azimuths_deg(site.latitude_deg)
    h = history.dropna()
    h = h[h.index.minute == 0]  # hourly sub-sample keeps the search cheap
    h = h[h > 0.02 * capacity_kw]
    if len(h) < 100:
        return site

    def candidate(tilt: float | None, azimuth: float | None, tracking: Tracking = "fixed") -> SiteSpec:
        return site_from_capacity(site.site_id, site.latitude_deg, site.longitude_deg, capacity_kw,
                                  altitude_m=site.altitude_m, timezone=site.timezone,
                                  surface_tilt_deg=tilt, surface_azimuth_deg=azimuth, tracking=tracking)

    sky = _sky(site, pd.DatetimeIndex(h.index))
    fixed = [candidate(t, a) for t in tilts_deg for a in azimuths_deg]
    scored = [(float(np.std(prof)), c) for c in fixed if (prof := _shape_profile(h, c, capacity_kw, sky)) is not None]
    trackers = [with_devices(candidate(None, None, "single_axis"), max_angle_deg=m) for m in TRACKER_MAX_ANGLES_DEG]
    mads = _tracker_decision_mads(h, fixed, trackers, capacity_kw, sky)
    if mads is not None and mads[1] < TRACKER_MAD_RATIO * mads[0]:
        tracker_scores = [(float(np.std(prof)), c) for c in trackers
                          if (prof := _shape_profile(h, c, capacity_kw, sky)) is not None]
        return min(tracker_scores, key=lambda t: t[0])[1] if tracker_scores else trackers[-1]
    return min(scored, key=lambda t: t[0])[1] if scored else site
