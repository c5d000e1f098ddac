"""Overheating, communication gaps and the informational detectors (clipping, degradation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import theilslopes

from heliosgrid.maintenance.detectors.base import Finding, complete, episode, exclusion, merge_runs, num, runs
from heliosgrid.maintenance.detectors.thresholds import DAYLIGHT_POA_W_M2, DEFAULT, Thresholds
from heliosgrid.maintenance.frames import BUCKET, BUCKET_H, completeness
from heliosgrid.physics import DeviceSpec


def detect_overheating(
    f: pd.DataFrame, device: DeviceSpec, k: float = 1.0, exclude: pd.Series | None = None, th: Thresholds = DEFAULT
) -> list[Finding]:
    """Overheating: module temperature well above its model, beyond what the peers show.

    ``tmod_excess_c`` > ``th.overheat_excess_c`` for 2 buckets with POA above
    ``th.overheat_min_poa_w_m2``; energy from the expectation with the modelled module temperature.
    """
    lit = f["poa_used_w_m2"] > th.overheat_min_poa_w_m2
    hot = (f["tmod_excess_c"] > th.overheat_excess_c) & lit & (f["sample_count"] > 0) & ~exclusion(f, exclude)
    bridge = ~lit | (f["sample_count"] == 0)
    out: list[Finding] = []
    for start, stop in merge_runs(runs(hot), bridge.to_numpy(dtype=bool)):
        n = int(hot.iloc[start:stop].sum())
        if n < 2:
            continue
        flagged = np.flatnonzero(hot.iloc[start:stop].to_numpy(dtype=bool)) + start
        part = f.iloc[start:stop]
        gap_kw = (part["expected_ac_model_temp_kw"] * k - part["ac_power_kw_avg"]).where(part["daylight"])
        excess = float(part["tmod_excess_c"][hot.iloc[start:stop]].median())
        evidence = {
            "median_excess_c": num(excess, 1),
            "max_module_temp_c": num(float(part["module_temp_c_avg"].max()), 1),
            "hot_buckets": n,
        }
        severity = "critical" if excess > th.overheat_critical_c else "warning"
        title = f"{device.device_id}: modules {excess:.0f} °C hotter than modelled"
        energy = float(gap_kw.dropna().sum() * BUCKET_H)
        detected = int(flagged[1]) + 1
        out.append(
            episode(
                device,
                "overheating",
                severity,
                f,
                (start, stop),
                detected,
                title=title,
                evidence=evidence,
                energy_lost_kwh=energy,
            )
        )
    return out


def _daylight_without_power(f: pd.DataFrame, device: DeviceSpec) -> pd.Series:
    """Daylight buckets with readings but no AC power, for an inverter that reports AC power."""
    none = pd.Series(False, index=f.index)
    if device.kind != "inverter" or "ac_power_kw_avg" not in f or "daylight" not in f:
        return none
    ac = f["ac_power_kw_avg"]
    if not ac.notna().any():
        return none
    return ac.isna() & (f["sample_count"] > 0) & f["daylight"].fillna(False).astype(bool)


NIGHT_CLEARSKY_POA_W_M2 = 1.0
"""At or below this clear-sky POA (W/m²) a bucket is night for the array."""
SLEEPS_NIGHT_SHARE = 0.2
"""A device with data in fewer than this share of its monitored night buckets, while it has data in at least half
of its daylight ones, sleeps at night (a logger powered by its inverter's DC side, the commonest kind)."""
MIN_JUDGED_BUCKETS = 8


def expected_to_report(f: pd.DataFrame, monitored: pd.Series) -> pd.Series:
    """Buckets in which the device should have sent data: every one, unless in this window it sleeps at night
    (:data:`SLEEPS_NIGHT_SHARE`); then those with a clear-sky POA above
    :data:`~.thresholds.DAYLIGHT_POA_W_M2` (150 W/m²), except where the measured reference POA was at most that
    (too dark for every inverter to have woken). A bucket without a measured reference stays judged: a site whose
    every logger fell silent has no sensor either. A device silent for most of the window's daylight is judged
    everywhere: its silence is the fault, not its habit."""
    everywhere = pd.Series(True, index=f.index)
    if "clearsky_poa_w_m2" not in f or "daylight" not in f:
        return everywhere
    has = f["sample_count"] > 0
    lit = f["daylight"].fillna(False).astype(bool)
    night = (f["clearsky_poa_w_m2"] <= NIGHT_CLEARSKY_POA_W_M2) & monitored
    if night.sum() < MIN_JUDGED_BUCKETS or (lit & monitored).sum() < MIN_JUDGED_BUCKETS:
        return everywhere
    if has[night].mean() >= SLEEPS_NIGHT_SHARE or has[lit & monitored].mean() < 0.5:
        return everywhere
    measured_dark = f["ref_poa_w_m2"] <= DAYLIGHT_POA_W_M2 if "ref_poa_w_m2" in f else False
    return (f["clearsky_poa_w_m2"] > DAYLIGHT_POA_W_M2) & ~measured_dark


def detect_comm_gap(f: pd.DataFrame, device: DeviceSpec, th: Thresholds = DEFAULT) -> list[Finding]:
    """Communication gap: buckets below ``th.comm_gap_completeness`` of their nominal samples, day or night —
    for a device that sleeps at night, in daylight only (:func:`expected_to_report`); a gap that runs through
    such a night is one episode.

    Buckets before the device's monitoring start (``monitored`` column False: before its first
    reading or ``commissioned_at``) are never a gap. An inverter that reports AC power counts a
    daylight bucket whose readings all lack it as empty: a power meter that stopped while the
    weather kept coming is a gap for the inverter (at night many loggers leave the power out).
    """
    share = completeness(f)
    no_ac = _daylight_without_power(f, device)
    share = share.where(~no_ac, 0.0)
    monitored = f["monitored"].astype(bool) if "monitored" in f else pd.Series(True, index=f.index)
    judged = expected_to_report(f, monitored)
    gap = (share < th.comm_gap_completeness) & monitored & judged
    partial = ((share < th.comm_gap_partial) & monitored & judged).to_numpy(dtype=bool)
    silent_unjudged = (~judged & monitored & (share < th.comm_gap_completeness)).to_numpy(dtype=bool)
    nominal = f["nominal_samples"] if "nominal_samples" in f else pd.Series(15.0, index=f.index)
    out: list[Finding] = []
    for start, stop in merge_runs(runs(gap), silent_unjudged):
        lo, hi = start, stop
        if lo > 0 and partial[lo - 1]:
            lo -= 1
        if hi < len(f) and partial[hi]:
            hi += 1
        missing = float((nominal.iloc[lo:hi] - f["sample_count"].iloc[lo:hi]).clip(lower=0).sum())
        hours = (hi - lo) * BUCKET_H
        severity = "critical" if hours > 4 else "warning"
        evidence: dict[str, object] = {"missing_samples": int(missing), "duration_h": hours}
        title = f"{device.device_id}: no data for {hours:.2g} h"
        if no_ac.iloc[start:stop].all():
            evidence["missing_measure"] = "ac_power_kw"
            title = f"{device.device_id}: no AC power for {hours:.2g} h (other readings arrive)"
        out.append(episode(device, "comm_gap", severity, f, (lo, hi), start + 1, title=title, evidence=evidence))
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


def _daily_performance_index(f: pd.DataFrame, th: Thresholds) -> tuple[pd.Series, pd.Series]:
    """(daily actual / expected energy within 0.5..1.5, daily expected bucket sums) over complete daylight."""
    ok = f["daylight"] & complete(f, th) & (f["expected_ac_kw"] > 0) & f["ac_power_kw_avg"].notna()
    part = f[ok]
    day = part.index.normalize()
    daily_actual = part["ac_power_kw_avg"].groupby(day).sum()
    daily_expected = part["expected_ac_kw"].groupby(day).sum()
    pi = (daily_actual / daily_expected).dropna()
    return pi[(pi > 0.5) & (pi < 1.5)], daily_expected  # outage days are other detectors' business


def detect_degradation(
    f: pd.DataFrame, device: DeviceSpec, min_days: int | None = None, th: Thresholds = DEFAULT
) -> list[Finding]:
    """Long-term degradation: Theil–Sen trend of the daily performance index (actual / expected energy)."""
    min_days = th.degradation_min_days if min_days is None else min_days
    pi, daily_expected = _daily_performance_index(f, th)
    if len(pi) < min_days or (pi.index[-1] - pi.index[0]).days < min_days:
        return []
    years = np.asarray((pi.index - pi.index[0]).days, dtype=float) / 365.25
    slope, intercept, lo_slope, hi_slope = theilslopes(pi.to_numpy(), years, alpha=0.95)
    rate = slope / intercept if intercept > 0 else float("nan")
    if not (rate < th.degradation_rate_per_year and hi_slope < 0):
        return []
    lost_fraction = np.clip(1.0 - (intercept + slope * years) / intercept, 0.0, 1.0)
    energy = float((daily_expected.loc[pi.index] * lost_fraction).sum() * BUCKET_H)
    return [
        Finding(
            site_id=device.site_id,
            device_id=device.device_id,
            fault_type="degradation",
            severity="warning" if rate < 2 * th.degradation_rate_per_year else "info",
            started_at=pd.Timestamp(pi.index[0]),
            ended_at=pd.Timestamp(pi.index[-1]) + pd.Timedelta(days=1),
            detected_at=pd.Timestamp(pi.index[-1]) + pd.Timedelta(days=1),
            energy_lost_kwh=energy,
            evidence={
                "rate_per_year": num(rate, 4),
                "rate_ci95_per_year": [num(lo_slope / intercept, 4), num(hi_slope / intercept, 4)],
                "days": len(pi),
            },
            title=f"{device.device_id}: performance degrading {rate:.1%} per year",
        )
    ]


def detect_snow_loss(f: pd.DataFrame, device: DeviceSpec, k: float, snow: pd.Series) -> list[Finding]:
    """Snow or frost on the modules (informational): episodes of ``snow`` buckets, nights bridged.

    ``snow`` comes from :func:`heliosgrid.maintenance.learning.snow_mask`. Energy lost =
    Σ max(0, k·expected − actual) × 0.25 h over the snow buckets (kWh); no truck roll.
    """
    snow = snow.reindex(f.index, fill_value=False).astype(bool)
    bridge = (~f["daylight"] | (f["sample_count"] == 0)).to_numpy(dtype=bool)
    out: list[Finding] = []
    for start, stop in merge_runs(runs(snow), bridge):
        part = f.iloc[start:stop][snow.iloc[start:stop].to_numpy()]
        energy = float((part["expected_ac_kw"] * k - part["ac_power_kw_avg"].fillna(0.0)).clip(lower=0).sum() * BUCKET_H)
        evidence = {
            "snow_buckets": len(part),
            "median_module_temp_c": _median(part["module_temp_c_avg"]),
            "median_poa_w_m2": _median(part["poa_used_w_m2"]),
        }
        title = f"{device.device_id}: snow or frost on the modules"
        out.append(
            episode(
                device, "snow_loss", "info", f, (start, stop), start + 1, title=title, evidence=evidence, energy_lost_kwh=energy
            )
        )
    return out


def _median(values: pd.Series) -> float | None:
    """Median of the finite values, 1 decimal (None without any: a station without that sensor)."""
    finite = values.dropna()
    return num(float(finite.median()), 1) if len(finite) else None
