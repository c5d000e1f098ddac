"""Sensor detectors: stuck (flat-lined) sensors and drifting POA sensors.

Their findings lose no energy; the engine masks the faulty readings before the loss detectors
run so that a bad sensor never causes a false loss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pvanalytics.quality.gaps import stale_values_diff
from scipy.stats import theilslopes

from heliosgrid.maintenance.detectors.base import Finding, complete, episode, exclusion, merge_runs, num, runs
from heliosgrid.maintenance.detectors.clearsky_drift import detect_clearsky_drift
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.physics import DeviceSpec


def stale(
    series: pd.Series, smin: pd.Series | None, smax: pd.Series | None, counts: pd.Series, th: Thresholds = DEFAULT
) -> pd.Series:
    """Bucket is stale: min == max over ≥ ``th.stale_min_samples`` samples, or the bucket mean
    repeats (pvanalytics ``stale_values_diff``, window 3)."""
    flat = pd.Series(False, index=series.index)
    if smin is not None and smax is not None:
        flat = (counts >= th.stale_min_samples) & (smax - smin).abs().le(0.0) & series.notna()
    present = series.dropna()
    if len(present) >= 3:
        repeat = stale_values_diff(present, window=3, rtol=0.0, atol=1e-9)
        flat = flat | repeat.reindex(series.index, fill_value=False)
    return flat


def _dark_together(f: pd.DataFrame, col: str, device: DeviceSpec, th: Thresholds) -> pd.Series:
    """Buckets where an irradiance sensor sits at its dark offset while the inverter produces
    nothing either: sensor and array are covered together (snow, frost, shade) — they agree. A weather
    station's sensor is compared with the whole site's AC (``site_ac_fraction``): RSF II's pyranometer and
    its inverter both read 0 on the mornings of 2–6 Jan 2022 (snow, low sun)."""
    dark = f[col] <= th.stale_dark_w_m2
    if device.kind == "weather_station":
        site_ac = f["site_ac_fraction"] if "site_ac_fraction" in f else pd.Series(np.nan, index=f.index)
        return dark & (site_ac < th.trip_power_fraction)
    ac = f["ac_power_kw_avg"] if "ac_power_kw_avg" in f else pd.Series(np.nan, index=f.index)
    return dark & (ac < th.trip_power_fraction * device.ac_capacity_kw)


def _stale_checks(f: pd.DataFrame, device: DeviceSpec, th: Thresholds) -> list[tuple[str, pd.Series, pd.Series]]:
    """(sensor, stale buckets, bridge buckets) for every sensor column present in ``f``."""
    counts = f["sample_count"]
    # The sun is up by the clear-sky model, not by the (possibly stuck) sensors themselves.
    sky = f["clearsky_poa_w_m2"] if "clearsky_poa_w_m2" in f else f["ref_poa_w_m2"]
    lit = sky > th.stale_lit_poa_w_m2
    checks: list[tuple[str, pd.Series, pd.Series]] = []
    for sensor in ("poa_w_m2", "ghi_w_m2", "module_temp_c", "ambient_temp_c"):
        col = f"{sensor}_avg"
        if col not in f or not f[col].notna().any():
            continue
        flat = stale(f[col], f.get(f"{sensor}_min"), f.get(f"{sensor}_max"), counts, th)
        if sensor in ("poa_w_m2", "ghi_w_m2"):
            # An irradiance of exactly 0 at night is not stale; only judge while the site sees light.
            agree = _dark_together(f, col, device, th)
            checks.append((sensor, flat & lit & ~agree, ~lit | (counts == 0) | agree))
        else:
            checks.append((sensor, flat, counts == 0))
    return checks


def detect_stuck_sensor(f: pd.DataFrame, device: DeviceSpec, th: Thresholds = DEFAULT) -> list[Finding]:
    """Stuck / flat-lined POA, GHI or temperature sensor (the value repeats) for ≥ 2 buckets.

    An irradiance sensor flat at its dark offset (≤ ``th.stale_dark_w_m2``) while the inverter
    produces nothing either is not stuck: both are covered (snow on RSF II, 2022-01-03 morning).
    """
    out: list[Finding] = []
    for sensor, flat, bridge in _stale_checks(f, device, th):
        for start, stop in merge_runs(runs(flat), bridge.to_numpy(dtype=bool)):
            n = int(flat.iloc[start:stop].sum())
            if n < th.stale_min_buckets:
                continue
            flagged = np.flatnonzero(flat.iloc[start:stop].to_numpy(dtype=bool)) + start
            value = f[f"{sensor}_avg"].iloc[start]
            evidence = {"sensor": sensor, "stuck_value": num(value), "stale_buckets": n}
            title = f"{device.device_id}: {sensor} sensor stuck at {value:.1f}"
            detected = int(flagged[th.stale_min_buckets - 1]) + 1
            out.append(episode(device, "stuck_sensor", "warning", f, (start, stop), detected, title=title, evidence=evidence))
    return out


def _drift_onset(r: pd.Series, start: int, stop: int) -> pd.Timestamp:
    """Back-extrapolate a drift to where it left 1.0 (Theil–Sen over the run and 96 buckets before)."""
    t_hours = np.asarray((r.index - r.index[0]).total_seconds(), dtype=float) / 3600.0
    lo = max(0, start - 96)
    seg_t = t_hours[lo:stop]
    seg_v = np.abs(r.to_numpy()[lo:stop] - 1.0)
    start_ts = pd.Timestamp(r.index[max(0, start - 7)])
    if len(seg_t) >= 8:
        slope, intercept, _, _ = theilslopes(seg_v, seg_t)
        if slope > 0:
            t0 = -intercept / slope
            if t_hours[lo] <= t0 <= t_hours[start]:
                start_ts = pd.Timestamp(r.index[0]) + pd.Timedelta(hours=float(t0))
    return start_ts.floor("15min")


OWN_LEVEL_WINDOWS = 3
DRIFT_NOISE_FACTOR = 4.0
"""The drift limit is ≥ 4 × the smoothed ratio's own noise (:func:`_rolling_noise`)."""


def _rolling_noise(rolling: pd.Series, window: int) -> float:
    """Robust noise of the smoothed ratio (MAD of its second differences ``window`` buckets apart /
    √6): what slow sensor errors (cosine response, a point sensor seeing other clouds than its
    peers) leave after smoothing. A linear drift cancels out of second differences, so a drift in
    the window does not raise its own limit."""
    second = (rolling - 2.0 * rolling.shift(window) + rolling.shift(2 * window)).dropna()
    if len(second) < window:
        return 0.0
    return float(1.4826 * (second - second.median()).abs().median() / np.sqrt(6.0))


def detect_irradiance_drift(
    f: pd.DataFrame, device: DeviceSpec, exclude: pd.Series | None = None, th: Thresholds = DEFAULT
) -> list[Finding]:
    """Drifting POA sensor: its reading departs from the site's irradiance reference (``poa_peer_ratio``).

    Rolling median over ``th.drift_window`` daylight buckets, relative to the sensor's own level at
    the window's first ≈ 4 days, off by > max(``th.drift_ratio``, 4 × its own noise) — and off the
    reference itself by > ``th.drift_ratio`` — for ``th.drift_min_buckets`` buckets. Evidence
    ``reference`` says whether the reference was the POA implied by metered power or the other
    sensors. A device with no such reference is
    judged against the clear sky on clear days (:mod:`.clearsky_drift`, reference ``clear_sky``).
    """
    if "poa_peer_ratio" not in f or not f["poa_peer_ratio"].notna().any():
        # No second sensor, station or power-implied reference: the clear sky is the reference.
        return detect_clearsky_drift(f, device, exclude, th)
    ratio = f["poa_peer_ratio"]
    ok = f["daylight"] & complete(f, th) & ratio.notna() & ~exclusion(f, exclude)
    r = ratio[ok]
    if len(r) < th.drift_window:
        return []
    # A drift is a change: the sensor's constant calibration offset against its peers (a gain
    # error of a few %) is its own level: the median of the window's first 3 × ``drift_window``
    # daylight buckets (≈ 4 days; one day's median still carries its slow errors, ≈ 2–3 %).
    own_level = float(r.iloc[: OWN_LEVEL_WINDOWS * th.drift_window].median())
    smoothed = r.rolling(th.drift_window, min_periods=th.drift_window).median()
    rolling = smoothed / own_level
    limit = max(th.drift_ratio, DRIFT_NOISE_FACTOR * _rolling_noise(rolling, th.drift_window))
    # A drift (and its recalibration step) must not raise its own limit: the noise once more
    # without the buckets already beyond it and ± 2 windows around them.
    beyond = ((rolling - 1.0).abs() > limit).astype(float)
    near = beyond.rolling(4 * th.drift_window + 1, center=True, min_periods=1).max() > 0
    quiet = rolling.where(~near)
    limit = max(th.drift_ratio, DRIFT_NOISE_FACTOR * _rolling_noise(quiet, th.drift_window))
    # Off its own level *and* off its peers: a change that brings a sensor back towards its peers
    # (or a slow common drift of the peers' mean against it) is no fault of the sensor.
    off = ((rolling - 1.0).abs() > limit) & ((smoothed - 1.0).abs() > th.drift_ratio)
    pos = np.flatnonzero(ok.to_numpy(dtype=bool))
    out: list[Finding] = []
    for start, stop in runs(off):
        if stop - start < th.drift_min_buckets:
            continue
        dev_value = float(rolling.iloc[stop - 1])
        from_power = "poa_ref_from_power" in f and bool(f["poa_ref_from_power"].iloc[pos[start:stop]].mean() >= 0.5)
        evidence = {
            "poa_ratio_to_peers": num(dev_value),
            "max_deviation": num(float((rolling.iloc[start:stop] - 1.0).abs().max())),
            "power_peer_ratio": num(float(f["peer_ratio"].iloc[pos[start:stop]].median())) if "peer_ratio" in f else None,
            "reference": "metered_power" if from_power else "sensors",
        }
        title = f"{device.device_id}: POA sensor reads {dev_value - 1.0:+.1%} against its peers"
        span = (int(pos[start]), int(pos[stop - 1]) + 1)
        found = episode(device, "irradiance_drift", "warning", f, span, int(pos[start + 1]) + 1, title=title, evidence=evidence)
        found.started_at = _drift_onset(r, start, stop)  # back-extrapolated to where the drift began
        out.append(found)
    return out
