"""Soiling: a gradual, growing loss against the model, day by day (site-local days).

pvanalytics has no soiling estimator and RdTools (stochastic rate and recovery) is not a
dependency; the daily-median calibrated ratio with a Theil–Sen trend is the same idea on a short
window. The loss must be real power, not a sensor artefact (see :func:`_confirmed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.stats import theilslopes

from heliosgrid.maintenance.detectors.base import Finding, complete, exclusion, num, runs
from heliosgrid.maintenance.detectors.soiling_ramp import (
    BASELINE_DAYS,
    cleanings,
    day_to_day_scatter,
    hinge_fit,
    ramp_energy_kwh,
    ramp_model,
    soiling_finding,
)
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.maintenance.frames import BUCKET_H
from heliosgrid.physics import DeviceSpec


def clearsky_envelope_loss(
    f: pd.DataFrame, device: DeviceSpec, k: float, ok: pd.Series, local_day: pd.DatetimeIndex, th: Thresholds = DEFAULT
) -> pd.Series:
    """Per clear local day: 1 − (envelope of actual / clear-sky AC) / (the clear baseline before it).

    Envelope = 90th percentile of ``ac_power_kw_avg / (k · clearsky_ac_kw)`` over the day's usable
    buckets (``ok``, clear-sky AC between 20 % and 90 % of nameplate: no clipping); clouds only
    lower it, soiling lowers it on every day. Baseline = median envelope of the clear days among
    the 10 days before (first days of the window: of the window's clear days). Days that are not
    clear (envelope < ``th.clear_day_envelope_fraction`` × baseline) are NaN. Empty when the
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
        clear_before = before[before >= th.clear_day_envelope_fraction * top]
        if clear_before.empty:
            continue
        base = float(clear_before.median())
        if env.iloc[i] >= th.clear_day_envelope_fraction * base:
            out.iloc[i] = max(0.0, 1.0 - float(env.iloc[i]) / base)
    return out


@dataclass
class _Daily:
    """Per local day: calibrated loss, power peer ratio, clear-sky envelope loss."""

    loss: pd.Series
    peer: pd.Series
    clearsky_loss: pd.Series
    ok: pd.Series


def _daily_loss(
    f: pd.DataFrame, device: DeviceSpec, k: float, exclude: pd.Series | None, timezone: str, th: Thresholds
) -> _Daily | None:
    signal = f["ratio_expected"] / k
    ok = (
        f["daylight"]
        & complete(f, th)
        & signal.notna()
        & ~f["near_clipping"]
        & (f["ac_power_kw_avg"] > th.trip_power_fraction * device.ac_capacity_kw)
        & ~(f["tmod_excess_c"] > th.overheat_excess_c / 2)
        & ~exclusion(f, exclude)
    )
    local_day = f.index.tz_convert(timezone).normalize()
    days_ok = local_day[ok.to_numpy()]
    daily = signal[ok].groupby(days_ok).median()
    counts = signal[ok].groupby(days_ok).size()
    # A POA sensor reading high by x % inflates the expectation by ≈ x % and mimics soiling:
    # re-reference the day's ratio to the site's irradiance reference.
    poa_ratio = f["poa_peer_ratio"][ok].groupby(days_ok).median()
    daily = (daily * poa_ratio.reindex(daily.index).fillna(1.0))[counts >= 6]
    if len(daily) < 3:
        return None
    peer = f["peer_ratio"][ok].groupby(days_ok).median().reindex(daily.index)
    return _Daily(
        loss=(1.0 - daily).clip(lower=0.0),
        peer=peer,
        clearsky_loss=clearsky_envelope_loss(f, device, k, ok, local_day, th),
        ok=ok,
    )


def _confirmed(d: _Daily, start: int, stop: int, others_daily_ratio: pd.Series | None, site_wide_only: bool = False) -> bool:
    """Metered power confirms the loss (see :func:`detect_soiling`)."""
    run_days = d.loss.index[start:stop]
    run_loss = float(np.median(d.loss.to_numpy()[start:stop]))
    if site_wide_only:
        others = others_daily_ratio.reindex(run_days) if others_daily_ratio is not None else pd.Series(dtype=float)
        site_loss = 1.0 - float(np.nanmedian(others)) if others.notna().any() else 0.0
        return site_loss >= 0.5 * run_loss and _clearsky_agrees(d, run_days)
    if not d.peer.notna().any():
        # No peers: nothing but the site's irradiance reference says the power fell. On the run's
        # clear days the power must also have fallen against the clear sky (ADR 0270).
        return _clearsky_agrees(d, run_days)
    peer_run = d.peer.loc[run_days]
    peer_loss = 1.0 - float(np.nanmedian(peer_run)) if peer_run.notna().any() else 0.0
    others = others_daily_ratio.reindex(run_days) if others_daily_ratio is not None else pd.Series(dtype=float)
    others_loss = 1.0 - float(np.nanmedian(others)) if others.notna().any() else 0.0
    if peer_loss < 0.5 * run_loss and others_loss < 0.5 * run_loss:
        return False  # a sensor artefact, not soiling
    if peer_loss < 0.5 * run_loss:
        # Only the neighbours' model ratios confirm it — and they share the site's sensors. On
        # clear days the power must also have fallen against the clear-sky expectation.
        return _clearsky_agrees(d, run_days)
    return True


def _clearsky_agrees(d: _Daily, run_days: pd.Index) -> bool:
    """False when, on the run's clear days, the clear-sky power envelope lost less than half the
    model-ratio loss (the irradiance reference, not the modules); True without clear days."""
    cs_loss = d.clearsky_loss.reindex(run_days).dropna()
    return not (len(cs_loss) and float(np.median(cs_loss)) < 0.5 * float(np.median(d.loss.reindex(cs_loss.index))))


def _soiling_finding(
    f: pd.DataFrame, device: DeviceSpec, k: float, d: _Daily, span: tuple[int, int], exclude: pd.Series | None, th: Thresholds
) -> Finding | None:
    """The finding for dirty days ``span`` when the loss grows (Theil–Sen slope), else None."""
    start, stop = span
    values = d.loss.to_numpy()
    days = d.loss.index
    lo = max(0, start - 10)
    x = np.arange(lo, stop, dtype=float)
    slope, intercept, _, _ = theilslopes(values[lo:stop], x)
    if not slope > th.soiling_min_slope_per_day:
        return None
    zero_day = int(np.clip(np.floor(-intercept / slope), lo, start))  # back-extrapolated to zero loss
    start_ts = pd.Timestamp(days[zero_day]).tz_convert("UTC")
    end_ts = (pd.Timestamp(days[stop - 1]) + pd.Timedelta(days=1)).tz_convert("UTC")
    detected = (pd.Timestamp(days[start + 1]) + pd.Timedelta(days=1)).tz_convert("UTC")  # end of the 2nd dirty day
    i0, i1 = int(f.index.searchsorted(start_ts)), int(f.index.searchsorted(end_ts))
    part = f.iloc[i0:i1][~exclusion(f, exclude).iloc[i0:i1]]
    energy = float((part["expected_ac_kw"] * k - part["ac_power_kw_avg"]).dropna().sum() * BUCKET_H)
    peak = float(values[start:stop].max())
    evidence = {
        "peak_daily_loss_fraction": num(peak),
        "loss_rate_per_day": num(slope, 4),
        "baseline_ratio": 1.0,
        "dirty_days": stop - start,
    }
    return soiling_finding(
        device, peak, (start_ts, end_ts), detected, energy, evidence, f"{device.device_id}: soiling loss growing to {peak:.1%}"
    )


def detect_soiling(
    f: pd.DataFrame,
    device: DeviceSpec,
    k: float = 1.0,
    exclude: pd.Series | None = None,
    timezone: str = "UTC",
    others_daily_ratio: pd.Series | None = None,
    th: Thresholds = DEFAULT,
    site_wide_only: bool = False,
) -> list[Finding]:
    """Soiling: daily calibrated loss ≥ ``th.soiling_loss`` for 2 days and growing.

    ``site_wide_only`` (the device's own soiling is judged against its peers by
    :func:`detect_soiling_peers`): only a loss the other inverters share, and that the clear-sky
    power envelope confirms, is reported — neighbours soiling together.

    When the site has peers, at least half the loss must show in the power peer ratio, or —
    neighbours soiling together — in the other inverters' own model ratios
    (``others_daily_ratio``: their median daily calibrated ratio); since those share the site's
    irradiance sensors, it must then also show in the clear-sky power envelope on the run's
    clear days (:func:`clearsky_envelope_loss`), when there are any.
    """
    d = _daily_loss(f, device, k, exclude, timezone, th)
    if d is None:
        return []
    out: list[Finding] = []
    for start, stop in runs(d.loss >= th.soiling_loss):
        if stop - start < 2 or not _confirmed(d, start, stop, others_daily_ratio, site_wide_only):
            continue
        found = _soiling_finding(f, device, k, d, (start, stop), exclude, th)
        if found is not None:
            out.append(found)
    return out


PEER_MIN_DAYS = 5
"""Days of peer ratio a stretch between cleanings needs before its trend is judged."""
PEER_SLOPE_CONFIDENCE = 0.8
"""Two-sided confidence of the Theil–Sen interval whose upper end must be < 0 (one-sided 90 %)."""
PEER_NOISE_FACTOR = 3.0
MIN_YIELD_FRACTION = 0.05
"""Buckets where the peer makes < 5 % of nameplate are too dark for a yield ratio."""
PEER_STEP_MIN = 0.05
"""A fall of the peer index between the medians of 3 days before and 3 days after a day ≥
max(5 %, 2 × the loss threshold) + 3 days of the stretch's own slope is a step (string, shade),
not soiling."""


def _daily_peer_index(
    f: pd.DataFrame, device: DeviceSpec, peer_yield: pd.DataFrame, exclude: pd.Series | None, timezone: str, th: Thresholds
) -> pd.Series:
    """Per local day: the device's yield against its *cleanest* peer.

    For each peer, the day's median of own / peer yield (per kW DC) over complete, unclipped
    daylight buckets with output (both ≥ 5 % of nameplate), outside ``exclude``; the index is the
    smallest of them (the peer that did best). (Each pair is not rescaled to its own first days:
    a peer's fault in those days would shift its scale.) A peer's own dirt, trip or string outage raises its pair ratio, so it
    never hides or mimics this device's soiling while one peer stays clean. Partial days (< 50 %
    of a typical day's buckets) are dropped.
    """
    ok = (
        f["daylight"]
        & complete(f, th)
        & ~f["near_clipping"]
        & (f["ac_power_kw_avg"] > th.trip_power_fraction * device.ac_capacity_kw)
        & ~exclusion(f, exclude)
    )
    min_yield = MIN_YIELD_FRACTION * device.ac_capacity_kw / device.dc_capacity_kw if device.dc_capacity_kw > 0 else np.inf
    day = pd.Series(f.index.tz_convert(timezone).normalize(), index=f.index)
    pairs: dict[str, pd.Series] = {}
    for peer_id in peer_yield.columns:
        other = peer_yield[peer_id].reindex(f.index)
        use = ok & (other > min_yield)
        ratio = (f["norm_yield"] / other)[use]
        daily = ratio.groupby(day[use]).median()
        size = ratio.groupby(day[use]).size()
        daily = daily[(size >= 6) & (size >= 0.5 * float(size.median()))] if len(size) else daily
        pairs[peer_id] = daily
    if not pairs:
        return pd.Series(dtype=float)
    return pd.DataFrame(pairs).min(axis=1).dropna()


def detect_soiling_peers(
    f: pd.DataFrame,
    device: DeviceSpec,
    peer_yield: pd.DataFrame | None,
    exclude: pd.Series | None = None,
    timezone: str = "UTC",
    th: Thresholds = DEFAULT,
) -> list[Finding]:
    """Soiling of one inverter against its peers: a gradual fall of its daily yield relative to the
    cleanest other inverter's (``peer_yield``: their ``norm_yield`` columns; no irradiance sensor
    involved, :func:`_daily_peer_index`).

    The daily index is split at cleanings (:func:`~.soiling_ramp.cleanings`); per stretch of ≥
    ``PEER_MIN_DAYS`` days: Theil–Sen slope whose one-sided 90 % upper bound is < 0, no fall ≥
    max(5 %, twice the threshold) + 3 days of its slope between 3-day medians (a step), and a ramp
    (:func:`~.soiling_ramp.hinge_fit`) reaching a loss ≥ max(2 %, 3 × the index's day-to-day
    scatter) at its last day. The episode ends at the cleaning (or the frame's end); energy =
    Σ (clean AC − AC), clean AC = AC / (1 − loss) capped at nameplate. Neighbours soiling
    together do not show here; the model-ratio detector (:func:`detect_soiling`) covers them.
    """
    if peer_yield is None or peer_yield.empty or "norm_yield" not in f:
        return []
    daily = _daily_peer_index(f, device, peer_yield, exclude, timezone, th)
    if len(daily) < PEER_MIN_DAYS:
        return []
    rel = daily.to_numpy(dtype=float) / float(np.median(daily.to_numpy()[:BASELINE_DAYS]))
    # The peer index is far quieter than the model ratio: its own scatter sets the threshold.
    floor = max(DEFAULT.soiling_loss, PEER_NOISE_FACTOR * day_to_day_scatter(rel))
    if peer_yield.shape[1] == 1:
        # With one peer, days well above the clean level are the peer's own shortfall (its trip,
        # string, dirt): no evidence about this device. (With more, the cleanest peer is used.)
        daily = daily[rel <= 1.0 + floor]
    if len(daily) < PEER_MIN_DAYS:
        return []
    rel = daily.to_numpy(dtype=float) / float(np.median(daily.to_numpy()[:BASELINE_DAYS]))
    floor = max(DEFAULT.soiling_loss, PEER_NOISE_FACTOR * day_to_day_scatter(rel))
    t_d = np.asarray((daily.index - daily.index[0]).total_seconds(), dtype=float) / 86400.0
    bounds = [0, *cleanings(rel, t_d, floor), len(rel)]
    out: list[Finding] = []
    for s0, s1 in pairwise(bounds):
        if s1 - s0 < PEER_MIN_DAYS:
            continue
        cleaned = pd.Timestamp(daily.index[s1]).tz_convert("UTC") if s1 < len(rel) else None
        found = _peer_ramp(f, device, daily.iloc[s0:s1], floor, cleaned)
        if found is not None:
            out.append(found)
    return out


def _largest_step(rel: np.ndarray) -> float:
    """Largest fall between the medians of 3 days before and 3 days from a day (0 when shorter)."""
    falls = [float(np.median(rel[i - 3 : i]) - np.median(rel[i : i + 3])) for i in range(3, len(rel) - 2)]
    return max(falls, default=0.0)


def _peer_ramp(
    f: pd.DataFrame, device: DeviceSpec, daily: pd.Series, floor: float, cleaned: pd.Timestamp | None
) -> Finding | None:
    """The finding of one stretch of daily peer ratios between cleanings, or None."""
    t_d = np.asarray((daily.index - daily.index[0]).total_seconds(), dtype=float) / 86400.0
    rel = daily.to_numpy(dtype=float) / float(np.median(daily.to_numpy()[:BASELINE_DAYS]))
    slope, _icpt, _lo, hi = theilslopes(rel, t_d, alpha=PEER_SLOPE_CONFIDENCE)
    # 3-day medians 3 days apart: a ramp at the stretch's own slope moves them by 3 × slope.
    if not hi < 0.0 or _largest_step(rel) >= max(PEER_STEP_MIN, 2.0 * floor) + 3.0 * abs(slope):
        return None  # no trend, or a one-day fall: a step (string, shade), not dirt building up
    onset_d, rate, base = hinge_fit(rel, t_d)
    loss_end = 1.0 - float(ramp_model(t_d[-1:], onset_d, rate, base)[0]) / base
    if rate <= 0.0 or loss_end < floor:
        return None
    onset = (pd.Timestamp(daily.index[0]) + pd.Timedelta(days=onset_d)).tz_convert("UTC").floor("15min")
    start = max(onset, pd.Timestamp(f.index[0]))
    end = cleaned if cleaned is not None else pd.Timestamp(f.index[-1]) + pd.Timedelta(minutes=15)
    # Detected at the end of the day the ramp's loss first reached the threshold.
    reached = (pd.Timestamp(daily.index[0]) + pd.Timedelta(days=onset_d + floor / rate)).ceil("1D").tz_convert("UTC")
    energy = ramp_energy_kwh(f, start, rate, end, device.ac_capacity_kw, measured_loss=1.0 - pd.Series(rel, daily.index) / base)
    evidence = {
        "reference": "peers",
        "loss_rate_per_day": num(rate, 4),
        "loss_fraction_at_end": num(loss_end),
        "threshold": num(floor),
        "cleaned_at": cleaned.isoformat() if cleaned is not None else None,
    }
    return soiling_finding(
        device,
        loss_end,
        (start, end),
        min(reached, end),
        energy,
        evidence,
        f"{device.device_id}: soiling loss growing {rate:.2%}/day against its peers, {loss_end:.1%}",
    )
