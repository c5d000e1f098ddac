"""Fault detectors: small, documented units over one device's 15-minute feature frame.

Each detector takes the frame built by :func:`heliosgrid.maintenance.expected.site_features`
(columns documented there) and returns :class:`Finding` objects with the episode's start and end
(UTC, bucket boundaries), the moment the rule first held (``detected_at``: end of the bucket that
completed the evidence — what a detector running every 15 minutes would have seen), the evidence
numbers, the energy lost and a recommended action.

Energy lost (kWh) for loss faults = Σ over the episode's buckets of (calibrated expected AC −
measured AC) × 0.25 h, where calibrated expected = ``expected_ac_kw × k`` and ``k`` is the
device's median actual/expected ratio over healthy daylight buckets
(:func:`~heliosgrid.maintenance.expected.calibration_factor`). Sensor and communication faults
lose no energy (0 kWh): the plant kept producing.

Thresholds and why (15-minute buckets, daylight = clear-sky and site POA > 150 W/m²):

===================  =========================================================================
inverter_trip        AC < 2 % of nameplate while expected AC > 10 % of nameplate, one bucket is
                     enough (a healthy inverter never sits at zero in daylight); night and
                     missing buckets in between do not split the episode.
string_outage        rolling median (3 daylight buckets) of the calibrated ratio to expected
                     < 0.95 and ≥ 5 points below its level 6–30 h earlier (a *step*; soiling
                     moves ≤ 1 point a day), peers (when present) also < 0.97.
soiling              daily median of the calibrated ratio to expected (re-referenced to the site's
                     irradiance reference, so a drifting POA sensor cannot mimic it) ≥ 2 % below 1
                     for 2 days, with a positive Theil–Sen loss slope (gradual); start
                     back-extrapolated to zero loss. Confirmed by metered power: at least half the
                     loss in the power peer ratio, or — neighbours soiling together — in the other
                     inverters' model ratios *and* in the clear-sky power envelope on clear days.
stuck_sensor         POA/GHI (while the site sees light) or a temperature with min == max over
                     a bucket of ≥ 3 samples, or identical bucket means (pvanalytics
                     ``stale_values_diff``), for ≥ 2 buckets.
irradiance_drift     POA / the site's irradiance reference (``poa_ref_w_m2``: the POA implied by
                     the other, peer-consistent inverters' metered power while the sensors
                     disagree, else the other sensors' median), rolling median of 48 daylight
                     buckets (≈ 1.5 days), off by > 3 % for 8 buckets (15-min ratios scatter by
                     3–6 % under broken clouds, daily medians by < 1 %); when several sensors of a
                     site deviate together against a sensor reference only the worst one is
                     blamed (evidence ``reference``: ``metered_power`` or ``sensors``).
overheating          module temperature above its SAPM model by > 8 °C more than the peers do,
                     for 2 consecutive buckets with POA > 100 W/m² (wind and mounting are common
                     to the site and cancel in the peer difference).
comm_gap             bucket completeness < 50 % (fewer than 8 of 15 samples), day or night.
clipping (info)      AC max ≥ 99 % of AC nameplate with unclipped expected above it.
degradation          Theil–Sen slope of the daily performance index over ≥ 180 days more
                     negative than −1 %/year with its 95 % interval below zero.
===================  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pvanalytics.quality.gaps import stale_values_diff
from scipy.stats import theilslopes

from heliosgrid.contract import FAULT_TYPES
from heliosgrid.maintenance.expected import NOMINAL_SAMPLES_MIN
from heliosgrid.maintenance.frames import BUCKET, BUCKET_H
from heliosgrid.physics import DeviceSpec

"""The fault types the simulator injects (and the evaluation scores)."""
INFO_TYPES: tuple[str, ...] = ("clipping", "degradation")
ALL_TYPES: tuple[str, ...] = FAULT_TYPES + INFO_TYPES

TRIP_POWER_FRACTION = 0.02
TRIP_EXPECTED_FRACTION = 0.10
LOSS_LEVEL = 0.95
STEP_MIN = 0.05
SOILING_LOSS = 0.02
DRIFT_RATIO = 0.03
DRIFT_WINDOW = 48
OVERHEAT_EXCESS_C = 8.0
OVERHEAT_MIN_POA_W_M2 = 100.0
COMM_GAP_COMPLETENESS = 0.5

ACTIONS: dict[str, str] = {
    "inverter_trip": "Check the inverter's fault log and grid/AC breaker; reset remotely or dispatch a technician.",
    "string_outage": "Inspect string fuses, connectors and combiner box of the inverter; IV-curve trace the affected strings.",
    "soiling": "Schedule module cleaning when the lost revenue exceeds the cleaning cost.",
    "stuck_sensor": "Check the sensor and its data logger channel; replace or re-seat the sensor.",
    "irradiance_drift": "Clean and recalibrate the pyranometer/reference cell; compare against the site weather station.",
    "overheating": "Inspect ventilation, hot spots (IR thermography) and the back-sheet sensor mounting.",
    "comm_gap": "Check the data logger, network link and modem of the device; data may need backfilling.",
    "clipping": "Informational: energy lost to inverter clipping; review the DC/AC ratio at the next design review.",
    "degradation": "Compare with the module warranty; schedule IV-curve tests and an EL/IR inspection.",
}


@dataclass
class Finding:
    """One detected episode on one device. Times are tz-aware UTC; energy kWh."""

    site_id: str
    device_id: str
    fault_type: str
    severity: str
    started_at: pd.Timestamp
    ended_at: pd.Timestamp
    detected_at: pd.Timestamp
    energy_lost_kwh: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    recommended_action: str = ""

    def __post_init__(self) -> None:
        if not self.recommended_action:
            self.recommended_action = ACTIONS.get(self.fault_type, "")
        self.energy_lost_kwh = max(0.0, float(self.energy_lost_kwh))


# --------------------------------------------------------------------------------------------
# helpers


def runs(mask: pd.Series) -> list[tuple[int, int]]:
    """Positional ``[start, stop)`` index pairs of the True runs of a boolean series."""
    values = mask.fillna(False).to_numpy(dtype=bool)
    if not values.any():
        return []
    edges = np.diff(np.concatenate(([0], values.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def merge_runs(found: list[tuple[int, int]], bridge: np.ndarray, max_gap: int | None = None) -> list[tuple[int, int]]:
    """Merge runs separated only by ``bridge`` buckets (and at most ``max_gap`` of them when set)."""
    merged: list[tuple[int, int]] = []
    for start, stop in found:
        if merged:
            prev_start, prev_stop = merged[-1]
            gap = bridge[prev_stop:start]
            if gap.all() and (max_gap is None or start - prev_stop <= max_gap):
                merged[-1] = (prev_start, stop)
                continue
        merged.append((start, stop))
    return merged


def _num(x: Any, digits: int = 3) -> float | None:
    value = float(x)
    return None if not np.isfinite(value) else round(value, digits)


def loss_kwh(f: pd.DataFrame, k: float, start: int, stop: int, expected_col: str = "expected_ac_kw") -> float:
    """Σ (k × expected − actual) × 0.25 h over buckets ``[start, stop)`` with data (kWh, not clipped per bucket)."""
    part = f.iloc[start:stop]
    diff = (part[expected_col] * k - part["ac_power_kw_avg"]).dropna()
    return float(diff.sum() * BUCKET_H)


def _ts(f: pd.DataFrame, pos: int) -> pd.Timestamp:
    if pos >= len(f.index):
        return pd.Timestamp(f.index[-1]) + BUCKET
    return pd.Timestamp(f.index[pos])


def _complete(f: pd.DataFrame) -> pd.Series:
    return f["sample_count"] >= NOMINAL_SAMPLES_MIN


# --------------------------------------------------------------------------------------------
# detectors


def detect_inverter_trip(f: pd.DataFrame, device: DeviceSpec, k: float = 1.0) -> list[Finding]:
    """Inverter trip / outage: no AC power while its irradiance says it should produce."""
    cap = device.ac_capacity_kw
    has_data = f["sample_count"] > 0
    producing_expected = f["daylight"] & (f["expected_ac_kw"] * k > TRIP_EXPECTED_FRACTION * cap)
    dead = has_data & producing_expected & (f["ac_power_kw_avg"].fillna(0.0) < TRIP_POWER_FRACTION * cap)
    quiet = (~f["daylight"] | ~has_data) & (f["ac_power_kw_avg"].fillna(0.0) < TRIP_POWER_FRACTION * cap)
    episodes = merge_runs(runs(dead), quiet.to_numpy(dtype=bool))
    ratio = (f["ac_power_kw_avg"] / (f["expected_ac_kw"] * k)).to_numpy()
    zero_with_light = (
        has_data & (f["expected_ac_kw"] * k > 0.01 * cap) & (f["ac_power_kw_avg"].fillna(0.0) < TRIP_POWER_FRACTION * cap)
    ).to_numpy(dtype=bool)
    out: list[Finding] = []
    for start, stop in episodes:
        # Extend by the partial buckets around the episode (trip began or ended mid-bucket).
        lo, hi = start, stop
        # Extend over the low-light buckets at either end where it still produced nothing.
        while lo > 0 and zero_with_light[lo - 1]:
            lo -= 1
        while hi < len(f) and zero_with_light[hi]:
            hi += 1
        if lo > 0 and np.isfinite(ratio[lo - 1]) and ratio[lo - 1] < 0.9:
            lo -= 1
        if hi < len(f) and np.isfinite(ratio[hi]) and ratio[hi] < 0.9:
            hi += 1
        energy = float((f["expected_ac_kw"].iloc[lo:hi] * k - f["ac_power_kw_avg"].iloc[lo:hi]).clip(lower=0).sum() * BUCKET_H)
        dead_part = f.iloc[start:stop][dead.iloc[start:stop]]
        out.append(
            Finding(
                site_id=device.site_id,
                device_id=device.device_id,
                fault_type="inverter_trip",
                severity="critical",
                started_at=_ts(f, lo),
                ended_at=_ts(f, hi),
                detected_at=_ts(f, start + 1),
                energy_lost_kwh=energy,
                evidence={
                    "dead_daylight_buckets": len(dead_part),
                    "mean_ac_power_kw": _num(dead_part["ac_power_kw_avg"].mean()),
                    "mean_expected_ac_kw": _num(dead_part["expected_ac_kw"].mean() * k),
                    "mean_poa_w_m2": _num(dead_part["poa_w_m2_avg"].mean(), 1),
                    "status_ok_samples": int(dead_part["status_ok_count"].sum()),
                },
                title=f"Inverter {device.device_id} produces no power with irradiance",
            )
        )
    return out


def detect_string_outage(f: pd.DataFrame, device: DeviceSpec, k: float = 1.0, exclude: pd.Series | None = None) -> list[Finding]:
    """String outage / partial loss: a *step* drop of output against the model, confirmed by peers.

    Works on the usable daylight buckets only (complete, not excluded, producing). ``level`` =
    rolling median of the last 3 calibrated ratios (actual / k·expected — its scatter on a healthy
    inverter is ≈ 1 %, far below the peers' 3–6 % because each inverter's POA sensor sees its
    own clouds); ``base`` = median ratio 6–30 h earlier. A step is ``base − level ≥ 5 points``
    with ``level < 0.95`` (and peers, when present, also below 0.96); buckets near clipping are
    skipped (their means are biased low): soiling changes the ratio by
    at most ~1 point a day and never triggers it. The episode lasts while the level stays 2.5
    points below the base (nights bridged).
    """
    cap = device.ac_capacity_kw
    usable = (
        f["daylight"]
        & _complete(f)
        & f["ratio_expected"].notna()
        & ~f["near_clipping"]
        & (f["ac_power_kw_avg"] > TRIP_POWER_FRACTION * cap)
        & ~(f["tmod_excess_c"] > OVERHEAT_EXCESS_C / 2)  # hot modules: overheating's business
    )
    if exclude is not None:
        usable &= ~exclude.reindex(f.index, fill_value=False)
    u = f.loc[usable]
    if len(u) < 8:
        return []
    ratio = (u["ratio_expected"] / k).to_numpy()
    peer = u["peer_ratio"].rolling(3, min_periods=3).median().to_numpy()
    level = pd.Series(ratio).rolling(3, min_periods=3).median().to_numpy()
    t = u.index
    pos_in_f = f.index.get_indexer(t)
    out: list[Finding] = []
    i = 3
    n = len(u)
    while i < n:
        lo_t, hi_t = t[i] - pd.Timedelta(hours=30), t[i] - pd.Timedelta(hours=6)
        window = (t >= lo_t) & (t < hi_t)
        if window.sum() < 6:
            i += 1
            continue
        base = float(np.median(ratio[window]))
        lvl = level[i]
        peer_ok = not np.isfinite(peer[i]) or peer[i] < 0.96
        if not (lvl < LOSS_LEVEL and base - lvl >= STEP_MIN and peer_ok):
            i += 1
            continue
        # Onset: first of the buckets below base - step/2 going backwards from i.
        onset = i
        while onset > 0 and ratio[onset - 1] < base - STEP_MIN / 2 and t[onset] - t[onset - 1] <= pd.Timedelta(hours=18):
            onset -= 1
        stop = i + 1
        while stop < n and (level[stop] < base - STEP_MIN / 2 or not np.isfinite(level[stop])):
            stop += 1
        last = stop - 1
        if stop - onset < 2:  # a single low bucket is a transient, not a string outage
            i = stop + 1
            continue
        a = int(pos_in_f[onset])
        # include the partial bucket just before the onset (fault began mid-bucket)
        if a > 0 and np.isfinite(f["ratio_expected"].iloc[a - 1]) and f["ratio_expected"].iloc[a - 1] / k < base - 0.01:
            a -= 1
        b = int(pos_in_f[last]) + 1
        if b < len(f) and np.isfinite(f["ratio_expected"].iloc[b]) and f["ratio_expected"].iloc[b] / k < base - 0.01:
            b += 1
        energy = loss_kwh(f, k, a, b) - (1.0 - base) * float((f["expected_ac_kw"].iloc[a:b] * k).sum() * BUCKET_H)
        during = float(np.median(ratio[onset:stop]))
        loss_fraction = 1.0 - during / base if base > 0 else float("nan")
        out.append(
            Finding(
                site_id=device.site_id,
                device_id=device.device_id,
                fault_type="string_outage",
                severity="critical" if loss_fraction >= 0.3 else "warning",
                started_at=_ts(f, a),
                ended_at=_ts(f, b),
                detected_at=_ts(f, int(pos_in_f[i]) + 1),
                energy_lost_kwh=energy,
                evidence={
                    "loss_fraction": _num(loss_fraction),
                    "ratio_before": _num(base),
                    "ratio_during": _num(during),
                    "peer_ratio_at_detection": _num(peer[i]),
                    "usable_buckets": stop - onset,
                },
                title=f"Inverter {device.device_id} lost {loss_fraction:.0%} of its output (string outage)",
            )
        )
        i = stop + 1
    return out


def detect_soiling(
    f: pd.DataFrame,
    device: DeviceSpec,
    k: float = 1.0,
    exclude: pd.Series | None = None,
    timezone: str = "UTC",
    others_daily_ratio: pd.Series | None = None,
) -> list[Finding]:
    """Soiling: a gradual, growing loss against the model, day by day (site local days).

    The loss must be real power, not a sensor artefact: when the site has peers, at least half of
    it must show in the power peer ratio, or — neighbours soiling together — in the other
    inverters' own model ratios (``others_daily_ratio``: their median daily calibrated ratio);
    since those share the site's irradiance sensors, in that case it must also show in the
    clear-sky power envelope on the run's clear days (:func:`_clearsky_envelope_loss`), when
    there are any.

    pvanalytics has no soiling estimator and RdTools (stochastic rate and recovery) is not a
    dependency; the daily-median ratio with a Theil–Sen trend is the same idea on a short window.
    """
    signal = f["ratio_expected"] / k
    ok = (
        f["daylight"]
        & _complete(f)
        & signal.notna()
        & ~f["near_clipping"]
        & (f["ac_power_kw_avg"] > TRIP_POWER_FRACTION * device.ac_capacity_kw)
        & ~(f["tmod_excess_c"] > OVERHEAT_EXCESS_C / 2)
    )
    if exclude is not None:
        ok &= ~exclude.reindex(f.index, fill_value=False)
    local_day = f.index.tz_convert(timezone).normalize()
    daily = signal[ok].groupby(local_day[ok.to_numpy()]).median()
    counts = signal[ok].groupby(local_day[ok.to_numpy()]).size()
    # A POA sensor reading high by x % inflates the expectation by ≈ x % and mimics soiling:
    # re-reference the day's ratio to the site's other irradiance sensors (soiling leaves the
    # clean reference sensor unchanged, a drifting sensor does not).
    poa_ratio = f["poa_peer_ratio"][ok].groupby(local_day[ok.to_numpy()]).median()
    daily = daily * poa_ratio.reindex(daily.index).fillna(1.0)
    daily = daily[counts >= 6]
    if len(daily) < 3:
        return []
    baseline = 1.0  # the calibrated ratio of a clean inverter
    loss = (baseline - daily).clip(lower=0.0)
    dirty = loss >= SOILING_LOSS
    out: list[Finding] = []
    values = loss.to_numpy()
    days = daily.index
    peer_daily = f["peer_ratio"][ok].groupby(local_day[ok.to_numpy()]).median().reindex(days)
    clearsky_loss = _clearsky_envelope_loss(f, device, k, ok, local_day)
    for start, stop in runs(dirty):
        if stop - start < 2:
            continue
        run_loss = float(np.median(values[start:stop]))
        run_days = days[start:stop]
        if peer_daily.notna().any():
            peer_loss = 1.0 - float(np.nanmedian(peer_daily.loc[run_days])) if peer_daily.loc[run_days].notna().any() else 0.0
            others = others_daily_ratio.reindex(run_days) if others_daily_ratio is not None else pd.Series(dtype=float)
            others_loss = 1.0 - float(np.nanmedian(others)) if others.notna().any() else 0.0
            if peer_loss < 0.5 * run_loss and others_loss < 0.5 * run_loss:
                continue  # the power does not confirm it: a sensor artefact, not soiling
            if peer_loss < 0.5 * run_loss:
                # Only the neighbours' model ratios confirm it — and they share the site's
                # irradiance sensors. On clear days the power must also have fallen against the
                # clear-sky expectation (no sensor involved): drifting sensors do not lower it.
                cs_loss = clearsky_loss.reindex(run_days).dropna()
                if len(cs_loss) and float(np.median(cs_loss)) < 0.5 * float(np.median(loss.reindex(cs_loss.index))):
                    continue
        # Gradual: Theil-Sen slope of the loss over the run and the days before it must be > 0.
        lo = max(0, start - 10)
        # walk back while the loss was still growing from ~0
        x = np.arange(lo, stop, dtype=float)
        slope, intercept, _, _ = theilslopes(values[lo:stop], x)
        if not slope > 0.002:
            continue
        zero_day = int(np.clip(np.floor(-intercept / slope), lo, start))
        start_ts = pd.Timestamp(days[zero_day]).tz_convert("UTC")
        end_ts = (pd.Timestamp(days[stop - 1]) + pd.Timedelta(days=1)).tz_convert("UTC")
        # detection: end of the second dirty day
        detected = (pd.Timestamp(days[start + 1]) + pd.Timedelta(days=1)).tz_convert("UTC")
        i0 = int(f.index.searchsorted(start_ts))
        i1 = int(f.index.searchsorted(end_ts))
        ex = exclude.reindex(f.index, fill_value=False) if exclude is not None else pd.Series(False, index=f.index)
        part = f.iloc[i0:i1][~ex.iloc[i0:i1]]
        energy = float((part["expected_ac_kw"] * k - part["ac_power_kw_avg"]).dropna().sum() * BUCKET_H)
        peak = float(values[start:stop].max())
        out.append(
            Finding(
                site_id=device.site_id,
                device_id=device.device_id,
                fault_type="soiling",
                severity="warning" if peak >= 0.05 else "info",
                started_at=start_ts,
                ended_at=end_ts,
                detected_at=detected,
                energy_lost_kwh=energy,
                evidence={
                    "peak_daily_loss_fraction": _num(peak),
                    "loss_rate_per_day": _num(slope, 4),
                    "baseline_ratio": _num(baseline),
                    "dirty_days": stop - start,
                },
                title=f"{device.device_id}: soiling loss growing to {peak:.1%}",
            )
        )
    return out


CLEAR_DAY_ENVELOPE_FRACTION = 0.8
"""A day counts as clear when its clear-sky power envelope is ≥ 80 % of the clear baseline
(overcast days sit at ≈ 0.3–0.6, days with sunny spells at ≈ 1; the margin keeps a day
with up to ≈ 20 % soiling loss counted as clear)."""


def _clearsky_envelope_loss(
    f: pd.DataFrame, device: DeviceSpec, k: float, ok: pd.Series, local_day: pd.DatetimeIndex
) -> pd.Series:
    """Per clear local day: 1 − (envelope of actual / clear-sky AC) / (the clear baseline before it).

    Envelope = 90th percentile of ``ac_power_kw_avg / (k · clearsky_ac_kw)`` over the day's usable
    buckets (``ok``, clear-sky AC between 20 % and 90 % of nameplate: no clipping); clouds only
    lower it, soiling lowers it on every day. Baseline = median envelope of the clear days among
    the 10 days before (first days of the window: of the window's clear days). Days that are not
    clear (envelope < :data:`CLEAR_DAY_ENVELOPE_FRACTION` × baseline) are NaN. Empty when the
    frame has no ``clearsky_ac_kw``.
    """
    if "clearsky_ac_kw" not in f:
        return pd.Series(dtype=float)
    cap = device.ac_capacity_kw
    cs = f["clearsky_ac_kw"] * k
    use = ok & (cs > 0.2 * cap) & (cs < 0.9 * cap)
    if not use.any():
        return pd.Series(dtype=float)
    index = (f["ac_power_kw_avg"] / cs)[use]
    by_day = index.groupby(local_day[use.to_numpy()])
    env = by_day.quantile(0.9)[by_day.size() >= 6]
    out = pd.Series(np.nan, index=env.index)
    for i in range(len(env)):
        before = env.iloc[max(0, i - 10) : i]
        if len(before) < 2:
            before = env.iloc[: max(i, 10)]
        top = float(before.max()) if len(before) else float("nan")
        clear_before = before[before >= CLEAR_DAY_ENVELOPE_FRACTION * top]
        if clear_before.empty:
            continue
        base = float(clear_before.median())
        if env.iloc[i] >= CLEAR_DAY_ENVELOPE_FRACTION * base:
            out.iloc[i] = max(0.0, 1.0 - float(env.iloc[i]) / base)
    return out


def _stale(series: pd.Series, smin: pd.Series | None, smax: pd.Series | None, counts: pd.Series) -> pd.Series:
    """Bucket is stale: min == max over ≥ 3 samples, or bucket mean repeats (pvanalytics, window 3)."""
    flat = pd.Series(False, index=series.index)
    if smin is not None and smax is not None:
        flat = (counts >= 3) & (smax - smin).abs().le(0.0) & series.notna()
    present = series.dropna()
    if len(present) >= 3:
        repeat = stale_values_diff(present, window=3, rtol=0.0, atol=1e-9)
        flat = flat | repeat.reindex(series.index, fill_value=False)
    return flat


def detect_stuck_sensor(f: pd.DataFrame, device: DeviceSpec) -> list[Finding]:
    """Stuck / flat-lined POA or module-temperature sensor (the value repeats)."""
    out: list[Finding] = []
    counts = f["sample_count"]
    checks: list[tuple[str, pd.Series, pd.Series]] = []
    if f["poa_w_m2_avg"].notna().any():
        stale = _stale(f["poa_w_m2_avg"], f.get("poa_w_m2_min"), f.get("poa_w_m2_max"), counts)
        # A POA of exactly 0 at night is not stale; only judge while the site sees light.
        lit = f["ref_poa_w_m2"] > 20.0
        checks.append(("poa_w_m2", stale & lit, ~lit | (counts == 0)))
    if "ghi_w_m2_avg" in f and f["ghi_w_m2_avg"].notna().any():
        stale = _stale(f["ghi_w_m2_avg"], f.get("ghi_w_m2_min"), f.get("ghi_w_m2_max"), counts)
        lit = f["ref_poa_w_m2"] > 20.0
        checks.append(("ghi_w_m2", stale & lit, ~lit | (counts == 0)))
    for sensor in ("module_temp_c", "ambient_temp_c"):
        if f"{sensor}_avg" in f and f[f"{sensor}_avg"].notna().any():
            stale = _stale(f[f"{sensor}_avg"], f.get(f"{sensor}_min"), f.get(f"{sensor}_max"), counts)
            checks.append((sensor, stale, counts == 0))
    for sensor, stale, bridge in checks:
        col = f"{sensor}_avg"
        for start, stop in merge_runs(runs(stale), bridge.to_numpy(dtype=bool)):
            n = int(stale.iloc[start:stop].sum())
            if n < 2:
                continue
            flagged = np.flatnonzero(stale.iloc[start:stop].to_numpy(dtype=bool)) + start
            value = f[col].iloc[start]
            out.append(
                Finding(
                    site_id=device.site_id,
                    device_id=device.device_id,
                    fault_type="stuck_sensor",
                    severity="warning",
                    started_at=_ts(f, start),
                    ended_at=_ts(f, stop),
                    detected_at=_ts(f, int(flagged[1]) + 1),
                    evidence={"sensor": sensor, "stuck_value": _num(value), "stale_buckets": n},
                    title=f"{device.device_id}: {sensor} sensor stuck at {value:.1f}",
                )
            )
    return out


def detect_irradiance_drift(f: pd.DataFrame, device: DeviceSpec, exclude: pd.Series | None = None) -> list[Finding]:
    """Drifting POA sensor: its reading departs from the site's irradiance reference (``poa_peer_ratio``)."""
    ratio = f["poa_peer_ratio"]
    ok = f["daylight"] & _complete(f) & ratio.notna()
    if exclude is not None:
        ok &= ~exclude.reindex(f.index, fill_value=False)
    r = ratio[ok]
    if len(r) < DRIFT_WINDOW:
        return []
    rolling = r.rolling(DRIFT_WINDOW, min_periods=DRIFT_WINDOW).median()
    off = (rolling - 1.0).abs() > DRIFT_RATIO
    out: list[Finding] = []
    pos = np.flatnonzero(ok.to_numpy(dtype=bool))
    for start, stop in runs(off):
        if stop - start < 8:
            continue
        # Back-extrapolate the drift to where it left 1.0 (Theil-Sen over the run and 3 days before).
        t_hours = (r.index - r.index[0]).total_seconds() / 3600.0
        lo = max(0, start - 96)
        seg_t = np.asarray(t_hours[lo:stop], dtype=float)
        seg_v = np.abs(r.to_numpy()[lo:stop] - 1.0)
        start_ts = pd.Timestamp(r.index[max(0, start - 7)])
        if len(seg_t) >= 8:
            slope, intercept, _, _ = theilslopes(seg_v, seg_t)
            if slope > 0:
                t0 = -intercept / slope
                if t_hours[lo] <= t0 <= t_hours[start]:
                    start_ts = pd.Timestamp(r.index[0]) + pd.Timedelta(hours=float(t0))
        end_pos = int(pos[stop - 1]) + 1
        dev_value = float(rolling.iloc[stop - 1])
        out.append(
            Finding(
                site_id=device.site_id,
                device_id=device.device_id,
                fault_type="irradiance_drift",
                severity="warning",
                started_at=start_ts.floor("15min"),
                ended_at=_ts(f, end_pos),
                detected_at=_ts(f, int(pos[start + 1]) + 1),
                evidence={
                    "poa_ratio_to_peers": _num(dev_value),
                    "max_deviation": _num(float((rolling.iloc[start:stop] - 1.0).abs().max())),
                    "power_peer_ratio": _num(float(f["peer_ratio"].iloc[pos[start:stop]].median()))
                    if "peer_ratio" in f
                    else None,
                    # Which reference the ratio was taken against: the POA implied by the other
                    # inverters' metered power (no sensor in it) or the other sensors' readings.
                    "reference": "metered_power"
                    if "poa_ref_from_power" in f and bool(f["poa_ref_from_power"].iloc[pos[start:stop]].mean() >= 0.5)
                    else "sensors",
                },
                title=f"{device.device_id}: POA sensor reads {dev_value - 1.0:+.1%} against its peers",
            )
        )
    return out


def detect_overheating(f: pd.DataFrame, device: DeviceSpec, k: float = 1.0, exclude: pd.Series | None = None) -> list[Finding]:
    """Overheating: module temperature well above its SAPM model, beyond what the peers show."""
    hot = (f["tmod_excess_c"] > OVERHEAT_EXCESS_C) & (f["poa_used_w_m2"] > OVERHEAT_MIN_POA_W_M2) & (f["sample_count"] > 0)
    if exclude is not None:
        hot &= ~exclude.reindex(f.index, fill_value=False)
    bridge = ~(f["poa_used_w_m2"] > OVERHEAT_MIN_POA_W_M2) | (f["sample_count"] == 0)
    out: list[Finding] = []
    for start, stop in merge_runs(runs(hot), bridge.to_numpy(dtype=bool)):
        n = int(hot.iloc[start:stop].sum())
        if n < 2:
            continue
        flagged = np.flatnonzero(hot.iloc[start:stop].to_numpy(dtype=bool)) + start
        part = f.iloc[start:stop]
        energy = float(
            (part["expected_ac_model_temp_kw"] * k - part["ac_power_kw_avg"]).where(part["daylight"]).dropna().sum() * BUCKET_H
        )
        excess = float(part["tmod_excess_c"][hot.iloc[start:stop]].median())
        out.append(
            Finding(
                site_id=device.site_id,
                device_id=device.device_id,
                fault_type="overheating",
                severity="critical" if excess > 20 else "warning",
                started_at=_ts(f, start),
                ended_at=_ts(f, stop),
                detected_at=_ts(f, int(flagged[1]) + 1),
                energy_lost_kwh=energy,
                evidence={
                    "median_excess_c": _num(excess, 1),
                    "max_module_temp_c": _num(float(part["module_temp_c_avg"].max()), 1),
                    "hot_buckets": n,
                },
                title=f"{device.device_id}: modules {excess:.0f} °C hotter than modelled",
            )
        )
    return out


def detect_comm_gap(f: pd.DataFrame, device: DeviceSpec) -> list[Finding]:
    """Communication gap: buckets with fewer than half their samples (or none), day or night."""
    completeness = f["sample_count"] / 15.0
    gap = completeness < COMM_GAP_COMPLETENESS
    partial = (completeness < 0.9).to_numpy(dtype=bool)
    out: list[Finding] = []
    for start, stop in runs(gap):
        lo, hi = start, stop
        if lo > 0 and partial[lo - 1]:
            lo -= 1
        if hi < len(f) and partial[hi]:
            hi += 1
        missing = float((15.0 - f["sample_count"].iloc[lo:hi]).clip(lower=0).sum())
        hours = (hi - lo) * BUCKET_H
        out.append(
            Finding(
                site_id=device.site_id,
                device_id=device.device_id,
                fault_type="comm_gap",
                severity="critical" if hours > 4 else "warning",
                started_at=_ts(f, lo),
                ended_at=_ts(f, hi),
                detected_at=_ts(f, start + 1),
                evidence={"missing_samples": int(missing), "duration_h": hours},
                title=f"{device.device_id}: no data for {hours:.2g} h",
            )
        )
    return out


def detect_clipping(f: pd.DataFrame, device: DeviceSpec, timezone: str = "UTC") -> list[Finding]:
    """Inverter clipping (informational): one finding per local day with clipped buckets."""
    cap = device.ac_capacity_kw
    dc_equiv = f["expected_ac_kw"]
    if "dc_power_kw_avg" in f:
        dc_equiv = f["dc_power_kw_avg"] * device.inverter_efficiency
    clipped = (f["ac_power_kw_max"] >= 0.99 * cap) & (dc_equiv > cap)
    if not clipped.any():
        return []
    out: list[Finding] = []
    days = f.index.tz_convert(timezone).normalize()
    for day, part in f[clipped].groupby(days[clipped.to_numpy()]):
        energy = float((dc_equiv.loc[part.index] - part["ac_power_kw_avg"]).clip(lower=0).sum() * BUCKET_H)
        out.append(
            Finding(
                site_id=device.site_id,
                device_id=device.device_id,
                fault_type="clipping",
                severity="info",
                started_at=pd.Timestamp(part.index[0]),
                ended_at=pd.Timestamp(part.index[-1]) + BUCKET,
                detected_at=pd.Timestamp(part.index[0]) + BUCKET,
                energy_lost_kwh=energy,
                evidence={"clipped_buckets": len(part), "local_day": str(pd.Timestamp(day).date())},
                title=f"{device.device_id}: clipping {len(part) * BUCKET_H:.2g} h",
            )
        )
    return out


def detect_degradation(f: pd.DataFrame, device: DeviceSpec, min_days: int = 180) -> list[Finding]:
    """Long-term degradation: trend of the daily performance index (actual / expected energy)."""
    ok = f["daylight"] & _complete(f) & (f["expected_ac_kw"] > 0) & f["ac_power_kw_avg"].notna()
    part = f[ok]
    if part.empty:
        return []
    day = part.index.normalize()
    daily_actual = part["ac_power_kw_avg"].groupby(day).sum()
    daily_expected = part["expected_ac_kw"].groupby(day).sum()
    pi = (daily_actual / daily_expected).dropna()
    pi = pi[(pi > 0.5) & (pi < 1.5)]  # outage days are other detectors' business
    if len(pi) < min_days or (pi.index[-1] - pi.index[0]).days < min_days:
        return []
    years = np.asarray((pi.index - pi.index[0]).days, dtype=float) / 365.25
    slope, intercept, lo_slope, hi_slope = theilslopes(pi.to_numpy(), years, alpha=0.95)
    rate = slope / intercept if intercept > 0 else float("nan")
    if not (rate < -0.01 and hi_slope < 0):
        return []
    fitted = intercept + slope * years
    lost_fraction = np.clip(1.0 - fitted / intercept, 0.0, 1.0)
    energy = float((daily_expected.loc[pi.index] * lost_fraction).sum() * BUCKET_H)
    return [
        Finding(
            site_id=device.site_id,
            device_id=device.device_id,
            fault_type="degradation",
            severity="warning" if rate < -0.02 else "info",
            started_at=pd.Timestamp(pi.index[0]),
            ended_at=pd.Timestamp(pi.index[-1]) + pd.Timedelta(days=1),
            detected_at=pd.Timestamp(pi.index[-1]) + pd.Timedelta(days=1),
            energy_lost_kwh=energy,
            evidence={
                "rate_per_year": _num(rate, 4),
                "rate_ci95_per_year": [_num(lo_slope / intercept, 4), _num(hi_slope / intercept, 4)],
                "days": len(pi),
            },
            title=f"{device.device_id}: performance degrading {rate:.1%} per year",
        )
    ]
