"""Inverter trip: no output while the irradiance (or, at a site without any, the clear sky) says there should be.

Works on the calibrated ratio actual / (k · expected AC) of one inverter's 15-minute frame
(:func:`heliosgrid.maintenance.expected.site_features`); thresholds in
:mod:`~heliosgrid.maintenance.detectors.thresholds`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.base import Finding, clear_sky_reference, episode, merge_runs, num, runs
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.maintenance.frames import BUCKET_H
from heliosgrid.physics import DeviceSpec


def _trip_edges(f: pd.DataFrame, k: float, start: int, stop: int, zero_with_light: np.ndarray, th: Thresholds,
                shade: np.ndarray) -> tuple[int, int]:
    """Extend a dead run over the low-light zero buckets and the partial bucket at either end (never onto the
    site's own shade, :func:`horizon_shaded`)."""
    ratio = (f["ac_power_kw_avg"] / (f["expected_ac_kw"] * k)).to_numpy()
    lo, hi = start, stop
    while lo > 0 and zero_with_light[lo - 1]:
        lo -= 1
    while hi < len(f) and zero_with_light[hi]:
        hi += 1
    if lo > 0 and np.isfinite(ratio[lo - 1]) and ratio[lo - 1] < th.trip_edge_ratio and not shade[lo - 1]:
        lo -= 1
    if hi < len(f) and np.isfinite(ratio[hi]) and ratio[hi] < th.trip_edge_ratio and not shade[hi]:
        hi += 1
    return lo, hi


ADJACENT_BUCKETS = 8
"""Buckets (2 h) either side of a trip whose calibrated ratio says what the device was producing."""


def adjacent_level(f: pd.DataFrame, k: float, lo: int, hi: int, cap_kw: float) -> float:
    """Median calibrated ratio (≤ 1) of the producing buckets within 2 h before and after ``[lo, hi)``.

    The device's own level around a trip, so the energy lost is what *it* would have produced
    (a device under partial snow or below its calibration level loses less than the model);
    1.0 with fewer than 3 such buckets."""
    expected = f["expected_ac_kw"].to_numpy() * k
    ac = f["ac_power_kw_avg"].to_numpy()
    idx = np.r_[max(0, lo - ADJACENT_BUCKETS) : lo, hi : min(len(f), hi + ADJACENT_BUCKETS)]
    ok = (expected[idx] > 0.1 * cap_kw) & (ac[idx] > 0.02 * cap_kw) & np.isfinite(ac[idx])
    if ok.sum() < 3:
        return 1.0
    return float(min(1.0, np.median(ac[idx][ok] / expected[idx][ok])))


SHADE_SHARE = 0.5
"""A time of day at a day's dark edge is the site's own shade unless it produced on more than this share of
the window's other producing days."""
PRODUCING_FRACTION = 0.05
"""A bucket above this share of nameplate is producing (it bounds a day's dark edges)."""


def sun_days(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(sun up per bucket, day number per bucket): days are the runs of sun (clear-sky POA > 0, else
    ``daylight``), so no time zone is needed; a night bucket carries the number of the day before it."""
    sun = (f["clearsky_poa_w_m2"] > 0) if "clearsky_poa_w_m2" in f else f["daylight"].astype(bool)
    sun_arr = sun.to_numpy(dtype=bool)
    return sun_arr, np.cumsum(sun_arr & ~np.r_[False, sun_arr[:-1]])


SHADE_LOW_SUN = 0.6
"""Shade falls at low sun: a bucket whose clear-sky POA is at least this share of its day's highest is never
the site's own shade (a trip at midday that reaches the end of the data stays a trip)."""


def horizon_shaded(f: pd.DataFrame, dead: pd.Series, cap_kw: float) -> pd.Series:
    """Dead buckets that are the site's own morning or evening shade (a roof, a ridge, a neighbouring row,
    that an irradiance reference does not see: the clear sky, a sensor mounted above it): at low sun
    (:data:`SHADE_LOW_SUN`), between sunrise and the day's first producing bucket or between its last and
    sunset (:data:`PRODUCING_FRACTION` of ``cap_kw``; a day cut by the window's start or end has no edge
    there), at a time of day (UTC slot) that produced on at most :data:`SHADE_SHARE` of the window's other
    producing days (none: no evidence that it can, e.g. on the first day). A trip bounded by production on its
    day, or at a time of day the plant is seen producing, is no shade. Days are the runs of sun (clear-sky POA
    > 0), so no time zone is needed. RSF II's roof is dark until 09:00 on clear January mornings (its POA
    sensor too): against the clear sky that was a trip every morning."""
    if "clearsky_poa_w_m2" not in f:
        return pd.Series(False, index=f.index)
    sun_arr, day_id = sun_days(f)
    producing = (f["ac_power_kw_avg"].fillna(0.0) >= PRODUCING_FRACTION * cap_kw).to_numpy(dtype=bool) & sun_arr
    pos = np.arange(len(f))
    days = pd.Series(day_id)

    def per_day(values: np.ndarray, mask: np.ndarray, how: str) -> np.ndarray:
        return days.map(pd.Series(values[mask]).groupby(day_id[mask]).agg(how)).to_numpy(dtype=float)

    first, last = per_day(pos, producing, "min"), per_day(pos, producing, "max")
    rise, fall = per_day(pos, sun_arr, "min"), per_day(pos, sun_arr, "max")
    cs = f["clearsky_poa_w_m2"].to_numpy(dtype=float)
    low_sun = cs < SHADE_LOW_SUN * per_day(cs, sun_arr, "max")
    morning = (pos < first) & (rise > 0)  # the day's sunrise is inside the window
    evening = (pos > last) & (fall < len(f) - 1)  # ... and its sunset
    edge_dead = sun_arr & low_sun & (morning | evening) & dead.to_numpy(dtype=bool)
    index = pd.DatetimeIndex(f.index)
    slot = index.hour.to_numpy() * 4 + index.minute.to_numpy() // 15
    days_lit = np.bincount(slot[sun_arr & np.isfinite(first)], minlength=96)[slot] - 1  # the other producing days
    days_on = np.bincount(slot[producing], minlength=96)[slot]
    return pd.Series(edge_dead & (days_on <= SHADE_SHARE * days_lit), index=f.index)


LEVEL_BUCKETS = 8
"""The level a dead run falls from: the median calibrated ratio of the producing buckets in the 2 h before it
(before the two buckets that show how it fell)."""
ABRUPT_FROM = 0.5
"""Against the clear sky a dead run is a trip when it begins abruptly: the bucket before it still produced at
least this share of the level (the trip came during or after it), or the one before that did and nothing was
left in between (:data:`LEFT_OVER` of the level: the trip came at its start)."""
LEFT_OVER = 0.1
MIN_LEVEL = 0.05
"""Below this calibrated ratio (or with fewer than two producing buckets before) the level says nothing: the
fall is then judged against the clear sky itself, the bucket before at least :data:`PARTIAL_BUCKET` of it, or the
one before that at least half of it with under 3 % left in between. A trip that starts while the output is
still under :data:`MIN_LEVEL` of the clear sky (RSF II, 3 and 4 Jan 2022: 1.9 kW of 87 at 10:00, its roof still
in the morning's shade) has nothing to fall from and is not found."""
PARTIAL_BUCKET = 0.2


def _fell_abruptly(ratio: np.ndarray, start: int) -> bool:
    """The fall into the dead run at ``start`` took at most one bucket (module :func:`clear_sky_trip`)."""
    one = ratio[start - 1] if start >= 1 else np.nan
    two = ratio[start - 2] if start >= 2 else np.nan
    before = ratio[max(0, start - 2 - LEVEL_BUCKETS) : max(0, start - 2)]
    before = before[np.isfinite(before) & (before > 0)]
    level = float(np.median(before)) if len(before) >= 2 else np.nan
    if level >= MIN_LEVEL:
        return bool(one >= ABRUPT_FROM * level or (two >= ABRUPT_FROM * level and one <= LEFT_OVER * level))
    return bool(one >= PARTIAL_BUCKET or (two >= 0.5 and one <= 0.03))


def _dark_since(f: pd.DataFrame, start: int, cap_kw: float, th: Thresholds) -> int:
    """Where the output went dark before the dead run at ``start``: back over the buckets under the sun with data
    and an inverter off (``trip_off_fraction``) that are not judged dead only because the sun is low (below
    ``trip_min_clearsky_poa_w_m2``). In a UK January the clear-sky POA passes 300 W/m² only at 11:00 UTC: a trip
    from 10:00 fell there, and the buckets just before 11:00 are already dark. Darkness that reaches back to
    sunrise fell from nothing: ``start`` is kept (PVDAQ 50, 7 Feb 2012: a snow-covered morning, dark until 09:15,
    read back to the dawn's noise ratios, was a false trip)."""
    ac = f["ac_power_kw_avg"].to_numpy(dtype=float)
    sun, _ = sun_days(f)
    dark = sun & (f["sample_count"].to_numpy(dtype=float) > 0) & np.isfinite(ac) & (ac < th.trip_off_fraction * cap_kw)
    since = start
    while since > 0 and dark[since - 1]:
        since -= 1
    # dark since sunrise: nothing fell (a snow-covered or shaded morning); the dawn's ratios are noise
    return start if since == 0 or not sun[since - 1] else since


def clear_sky_trip(f: pd.DataFrame, k: float, start: int, stop: int, cap_kw: float, th: Thresholds = DEFAULT) -> bool:
    """Whether the dead run ``[start, stop)`` of a frame judged against the clear sky is a trip: it fell from the
    level of the 2 h before within one bucket (:func:`_fell_abruptly`), or no bucket of its days produced
    (:data:`PRODUCING_FRACTION` of ``cap_kw``: an inverter off all day; snow is told by the temperature). A storm
    darkens over buckets (the fall is read where the output went dark, :func:`_dark_since`): PVDAQ 50 on 9 Jul
    2011 went 0.69 → 0.10 → 0.002 kW before its inverter stopped under
    30–50 W/m², and on 19 Jul 0.13 → 0.05 → 0.02; both read as trips against the clear sky. Judged against the
    level, not the clear sky, a trip on a dull day is still a trip (PVDAQ 50, 11 Feb 2012)."""
    ratio = (f["ac_power_kw_avg"] / (k * f["expected_ac_kw"])).to_numpy()
    if _fell_abruptly(ratio, _dark_since(f, start, cap_kw, th)):
        return True
    sun, day_id = sun_days(f)
    on_days = np.isin(day_id, np.unique(day_id[start:stop][sun[start:stop]])) & sun
    return not bool((f["ac_power_kw_avg"].to_numpy()[on_days] >= PRODUCING_FRACTION * cap_kw).any())


def _trip_finding(f: pd.DataFrame, device: DeviceSpec, k: float, run: tuple[int, int], edges: tuple[int, int],
                  dead: pd.Series, snow: pd.Series) -> Finding:
    """The finding of one dead ``run`` extended to ``edges`` (positions in ``f``), its energy at the device's own
    level (:func:`adjacent_level`). Buckets under snow would not have produced the model's power anyway: their
    shortfall is not the trip's (snow-covered modules give ≈ 0 either way; snow_loss reports the snow)."""
    (start, stop), (lo, hi) = run, edges
    level = adjacent_level(f, k, lo, hi, device.ac_capacity_kw)
    lost_kw = (f["expected_ac_kw"].iloc[lo:hi] * k * level - f["ac_power_kw_avg"].iloc[lo:hi]).clip(lower=0)
    energy = float(lost_kw[~snow.iloc[lo:hi].to_numpy()].sum() * BUCKET_H)
    dead_part = f.iloc[start:stop][dead.iloc[start:stop]]
    against_clear_sky = clear_sky_reference(f)
    evidence = {
        "dead_daylight_buckets": len(dead_part),
        "mean_ac_power_kw": num(dead_part["ac_power_kw_avg"].mean()),
        "mean_expected_ac_kw": num(dead_part["expected_ac_kw"].mean() * k),
        "mean_poa_w_m2": num(dead_part["poa_w_m2_avg"].mean(), 1),
        "status_ok_samples": int(dead_part["status_ok_count"].sum()),
        "adjacent_ratio": num(level),
        "reference": "clear_sky" if against_clear_sky else "irradiance",
    }
    title = (f"Inverter {device.device_id} produces no power under a sky that should let it (no irradiance measured: "
             "judged against the clear sky)" if against_clear_sky
             else f"Inverter {device.device_id} produces no power with irradiance")
    return episode(device, "inverter_trip", "critical", f, (lo, hi), start + 1, title=title, evidence=evidence,
                   energy_lost_kwh=energy)


def detect_inverter_trip(f: pd.DataFrame, device: DeviceSpec, k: float = 1.0, th: Thresholds = DEFAULT) -> list[Finding]:
    """Inverter trip / outage: no AC power while its irradiance says it should produce.

    One dead daylight bucket (AC below ``trip_off_fraction`` of nameplate: the inverter is off) is
    enough, unless it is the site's recurring morning or evening shade (:func:`horizon_shaded`); night
    and no-data buckets in between do not split an episode. Against the clear sky (no irradiance at the
    site) a dead run must also begin abruptly or last a whole day (:func:`clear_sky_trip`). Energy = Σ max(0,
    level·k·expected − actual) × 0.25 h over the episode's buckets not under suspected snow (kWh),
    ``level`` = :func:`adjacent_level` (the device's own output level either side of the trip).
    """
    cap = device.ac_capacity_kw
    ac = f["ac_power_kw_avg"].fillna(0.0)
    # A reading without its AC power (a logger that sent only the weather) says nothing about the
    # inverter: such a bucket is "no data", as one without readings, never a dead bucket.
    has_data = (f["sample_count"] > 0) & f["ac_power_kw_avg"].notna()
    producing_expected = f["daylight"] & (f["expected_ac_kw"] * k > th.trip_expected_fraction * cap)
    if "clearsky_poa_w_m2" in f:  # low sun: row-to-row and horizon shading, not a trip
        producing_expected &= f["clearsky_poa_w_m2"] >= th.trip_min_clearsky_poa_w_m2
    dead = has_data & producing_expected & (ac < th.trip_off_fraction * cap)
    snow = f["snow_suspected"].fillna(False).astype(bool) if "snow_suspected" in f else pd.Series(False, index=f.index)
    shade = horizon_shaded(f, dead, cap)
    dead &= ~shade & ~snow
    quiet = (~f["daylight"] | ~has_data) & (ac < th.trip_power_fraction * cap)
    zero_with_light = (
        has_data & ~shade & (f["expected_ac_kw"] * k > 0.01 * cap) & (ac < th.trip_power_fraction * cap)
    ).to_numpy(dtype=bool)
    out: list[Finding] = []
    found = merge_runs(runs(dead), quiet.to_numpy(dtype=bool))
    if clear_sky_reference(f):
        found = [(a, b) for a, b in found if clear_sky_trip(f, k, a, b, cap, th)]
    for start, stop in found:
        lo, hi = _trip_edges(f, k, start, stop, zero_with_light, th, shade.to_numpy(dtype=bool))
        out.append(_trip_finding(f, device, k, (start, stop), (lo, hi), dead, snow))
    return out


