"""String outage (a step down): the loss detector with a sharp onset (the trip: :mod:`.trip`).

It works on the calibrated ratio actual / (k · expected AC) of one inverter's 15-minute frame
(:func:`heliosgrid.maintenance.expected.site_features`); thresholds in
:mod:`~heliosgrid.maintenance.detectors.thresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.base import (
    Finding,
    episode,
    exclusion,
    healthy_daylight_mask,
    loss_kwh,
    num,
)
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.maintenance.frames import BUCKET_H
from heliosgrid.physics import DeviceSpec


@dataclass
class _Usable:
    """The usable daylight buckets of one inverter for the step test."""

    t: pd.DatetimeIndex
    ratio: np.ndarray
    level: np.ndarray
    peer: np.ndarray
    pos_in_f: np.ndarray
    base: np.ndarray


def _usable_buckets(f: pd.DataFrame, device: DeviceSpec, k: float, exclude: pd.Series | None, th: Thresholds) -> _Usable:
    usable = healthy_daylight_mask(f, device, exclude, th) & (f["poa_used_w_m2"] >= th.string_min_poa_w_m2)
    if "clearsky_poa_w_m2" in f:
        usable &= f["poa_used_w_m2"] >= th.string_min_clearness * f["clearsky_poa_w_m2"]
    u = f.loc[usable]
    ratio = (u["ratio_expected"] / k).to_numpy()
    t = pd.DatetimeIndex(u.index)
    return _Usable(
        t=t,
        ratio=ratio,
        level=pd.Series(ratio).rolling(th.string_window, min_periods=th.string_window).median().to_numpy(),
        peer=u["peer_ratio"].rolling(3, min_periods=3).median().to_numpy(),
        pos_in_f=f.index.get_indexer(u.index),
        base=earlier_base(t, ratio),
    )


SAME_TIME_HALF_WIDTH = pd.Timedelta(hours=1.5)


def earlier_base(t: pd.DatetimeIndex, values: np.ndarray) -> np.ndarray:
    """Per point, the median of ``values`` at the same time of day (± 1.5 h) 24 h earlier, else 48 h
    earlier (≥ 4 points), else over 6–30 h earlier (≥ 6 points); NaN without history. NaN values
    (buckets of an earlier episode) are not history.

    Comparing like with like removes the model's diurnal error shape (angle of incidence,
    spectrum, thermal lag: real ratios sag by 10–15 % at noon on some plants), which a plain
    6–30 h median would read as a step.
    """
    secs = np.asarray(t.asi8, dtype=np.int64) // 10**9
    out = np.full(len(secs), np.nan)
    half = int(SAME_TIME_HALF_WIDTH.total_seconds())
    finite = np.isfinite(values)
    for i, now in enumerate(secs):
        for lag in (86400, 2 * 86400):
            lo, hi = np.searchsorted(secs, [now - lag - half, now - lag + half + 1])
            if finite[lo:hi].sum() >= 4:
                out[i] = np.nanmedian(values[lo:hi])
                break
        else:
            lo, hi = np.searchsorted(secs, [now - 30 * 3600, now - 6 * 3600])
            if finite[lo:hi].sum() >= 6:
                out[i] = np.nanmedian(values[lo:hi])
    return out


def _step_at(u: _Usable, i: int, th: Thresholds) -> float | None:
    """The earlier base ratio (:func:`earlier_base`) when a step down holds at bucket ``i``, else None."""
    base = float(u.base[i])
    if not np.isfinite(base):
        return None
    peer_ok = not np.isfinite(u.peer[i]) or u.peer[i] < th.peer_confirm_ratio
    if u.level[i] < th.loss_level and base - u.level[i] >= th.step_min and peer_ok:
        return base
    return None


def _episode(u: _Usable, i: int, base: float, th: Thresholds, floor: int = 0) -> tuple[int, int]:
    """``[onset, stop)`` in usable positions: back while below base − step/2 (not before ``floor``,
    the end of the previous episode), forward while the level is."""
    onset = i
    half = base - th.step_min / 2
    while onset > floor and u.ratio[onset - 1] < half and u.t[onset] - u.t[onset - 1] <= pd.Timedelta(hours=18):
        onset -= 1
    stop = i + 1
    # Forward while the level stays below the pre-fault ratio at its time of day (the detection
    # base when that hour has no pre-fault history): the episode survives nights and days.
    while stop < len(u.t) and (
        not np.isfinite(u.level[stop]) or u.level[stop] < _pre_fault_reference(u, stop, onset, base, half) - th.step_min / 2
    ):
        stop += 1
    return onset, stop


def _pre_fault_reference(u: _Usable, j: int, onset: int, fallback: float, healthy_above: float) -> float:
    """Median ratio of the 3 days before ``onset`` at bucket ``j``'s time of day (± 1.5 h), over the
    buckets that looked healthy (ratio ≥ ``healthy_above``: an earlier fault is not a reference)."""
    secs = np.asarray(u.t.asi8, dtype=np.int64) // 10**9
    start = secs[onset]
    before = (secs < start) & (secs >= start - 3 * 86400) & (u.ratio >= healthy_above)
    tod = np.abs(((secs - secs[j]) + 43200) % 86400 - 43200)
    near = before & (tod <= SAME_TIME_HALF_WIDTH.total_seconds())
    return float(np.median(u.ratio[near])) if near.sum() >= 2 else fallback


def _outage_finding(
    f: pd.DataFrame, device: DeviceSpec, k: float, u: _Usable, i: int, span: tuple[int, int], base: float, busy: pd.Series
) -> Finding:
    onset, stop = span
    ratio_f = f["ratio_expected"].to_numpy() / k
    a = int(u.pos_in_f[onset])
    if a > 0 and np.isfinite(ratio_f[a - 1]) and ratio_f[a - 1] < base - 0.01:
        a -= 1  # the partial bucket just before the onset (fault began mid-bucket)
    b = int(u.pos_in_f[stop - 1]) + 1
    if b < len(f) and np.isfinite(ratio_f[b]) and ratio_f[b] < base - 0.01:
        b += 1
    # Energy over the episode's own buckets: a trip (or comm gap) inside it is counted once, by the trip.
    own = f.iloc[a:b][~busy.iloc[a:b].to_numpy()]
    energy = loss_kwh(own, k, 0, len(own)) - (1.0 - base) * float((own["expected_ac_kw"] * k).sum() * BUCKET_H)
    during = float(np.median(u.ratio[onset:stop]))
    loss_fraction = 1.0 - during / base if base > 0 else float("nan")
    evidence = {
        "loss_fraction": num(loss_fraction),
        "ratio_before": num(base),
        "ratio_during": num(during),
        "peer_ratio_at_detection": num(u.peer[i]),
        "usable_buckets": stop - onset,
    }
    severity = "critical" if loss_fraction >= 0.3 else "warning"
    title = f"Inverter {device.device_id} lost {loss_fraction:.0%} of its output (string outage)"
    detected = int(u.pos_in_f[i]) + 1
    return episode(device, "string_outage", severity, f, (a, b), detected, title=title, evidence=evidence, energy_lost_kwh=energy)


def detect_string_outage(
    f: pd.DataFrame, device: DeviceSpec, k: float = 1.0, exclude: pd.Series | None = None, th: Thresholds = DEFAULT
) -> list[Finding]:
    """String outage / partial loss: a *step* drop of output against the model, confirmed by peers.

    Works on the usable daylight buckets only (complete, not excluded, producing, not near
    clipping, modules not hot). ``level`` = rolling median of the last 3 calibrated ratios;
    ``base`` = median ratio 6–30 h earlier. A step is ``base − level ≥ step_min`` with
    ``level < loss_level`` (and peers, when present, below ``peer_confirm_ratio``). The episode
    lasts while the level stays ``step_min / 2`` below the base (nights bridged); a single low
    bucket is a transient.
    """
    u = _usable_buckets(f, device, k, exclude, th)
    if len(u.t) < 8:
        return []
    out: list[Finding] = []
    i = th.string_window
    floor = 0
    while i < len(u.t):
        base = _step_at(u, i, th)
        if base is None:
            i += 1
            continue
        onset, stop = _episode(u, i, base, th, floor)
        floor = stop
        # The episode is no baseline for what follows (a second outage right after the first).
        masked = u.ratio.copy()
        masked[onset:stop] = np.nan
        u.base[stop:] = earlier_base(u.t, masked)[stop:]
        if stop - onset >= max(2, th.string_window - 1):
            out.append(_outage_finding(f, device, k, u, i, (onset, stop), base, exclusion(f, exclude)))
        i = stop + 1
    return out
