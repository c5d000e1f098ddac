"""Soiling ramps on a daily index: cleanings split the series, a hinge fit gives onset and rate.

Shared by the long-window clear-sky trend (:mod:`.soiling_trend`, index ``B`` of clear days) and
the peer-ratio soiling detector (:func:`.soiling.detect_soiling_peers`, index = the device's
daily power relative to its peers'). Both indices are relative to the device's own level (1.0 =
clean); soiling lowers them gradually, a cleaning (rain, a wash) raises them in one step.

* :func:`cleanings`: the days where the index jumps back up to its clean level, well above the
  line through the days before — the soiling episode before it ends there, and the next one
  starts from its own clean level;
* :func:`hinge_fit`: onset and loss rate of ``rel = base · (1 − rate · max(0, t − onset))``;
* :func:`looks_like_step`: an abrupt drop (level before, level after) is no soiling ramp;
* :func:`ramp_energy_kwh`: Σ AC × loss / (1 − loss) × bucket hours over a ramp's buckets (the power
  the clean array would have made above what it made);
* :func:`soiling_finding`: the one shape of a soiling finding (severity from the loss reached).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.base import Finding
from heliosgrid.maintenance.frames import BUCKET_H
from heliosgrid.physics import DeviceSpec

BASELINE_DAYS = 4
"""Days of the index that set the clean level when a ramp starts at the series' first day."""
MIN_DAYS_BEFORE_CLEANING = 4
"""A cleaning is judged against a line through ≥ 4 days of the index since the last one."""
WARNING_LOSS = 0.05
"""A soiling loss (fraction of clean output) from which the finding is a warning (a wash pays), else info."""


def soiling_finding(
    device: DeviceSpec,
    loss_fraction: float,
    span: tuple[pd.Timestamp, pd.Timestamp],
    detected_at: pd.Timestamp,
    energy_lost_kwh: float,
    evidence: dict[str, Any],
    title: str,
) -> Finding:
    """A ``soiling`` finding on ``device`` over ``span`` = (start, end), UTC; ``loss_fraction`` is the
    loss reached (0..1, sets the severity), ``energy_lost_kwh`` the energy the clean array would have
    made above what it made (kWh)."""
    return Finding(
        site_id=device.site_id,
        device_id=device.device_id,
        fault_type="soiling",
        severity="warning" if loss_fraction >= WARNING_LOSS else "info",
        started_at=span[0],
        ended_at=span[1],
        detected_at=detected_at,
        energy_lost_kwh=energy_lost_kwh,
        evidence=evidence,
        title=title,
    )


def day_to_day_scatter(rel: np.ndarray) -> float:
    """Robust scatter of one day's index (MAD of day-to-day differences / √2); 0 with < 3 days."""
    diffs = np.diff(np.asarray(rel, dtype=float))
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2.0))


def cleanings(rel: np.ndarray, t_d: np.ndarray, floor: float) -> list[int]:
    """Indices ``i`` where a cleaning happened between day ``i − 1`` and day ``i``.

    The days since the previous cleaning (≥ ``MIN_DAYS_BEFORE_CLEANING``) are fitted by the ramp
    model (:func:`hinge_fit`); a cleaning is a day ≥ max(``floor``, 4 × the fit's robust residual
    scatter) above the model's value for it, where the model had fallen by at least that much below the
    clean level (median of the stretch's first ``BASELINE_DAYS`` days), the day is back within
    that margin of the clean level, and so is the next day when there is one (one bright day
    after hazy ones is not a cleaning).
    """
    rel = np.asarray(rel, dtype=float)
    out: list[int] = []
    seg = 0
    for i in range(len(rel)):
        if i - seg < MIN_DAYS_BEFORE_CLEANING:
            continue
        t_seg = t_d[seg:i] - t_d[seg]
        onset, rate, base = hinge_fit(rel[seg:i], t_seg)
        resid = rel[seg:i] - ramp_model(t_seg, onset, rate, base)
        margin = max(floor, 4.0 * 1.4826 * float(np.median(np.abs(resid - np.median(resid)))))
        predicted = float(ramp_model(np.array([t_d[i] - t_d[seg]]), onset, rate, base)[0])
        clean = float(np.median(rel[seg : seg + BASELINE_DAYS]))
        back = rel[i] >= clean - margin and (i + 1 >= len(rel) or rel[i + 1] >= clean - margin)
        if rel[i] - predicted >= margin and clean - predicted >= margin and back:
            out.append(i)
            seg = i
    return out


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][int(np.searchsorted(cum, 0.5 * cum[-1]))])


def hinge_fit(rel: np.ndarray, t_d: np.ndarray) -> tuple[float, float, float]:
    """(onset day, loss rate per day, clean level) of ``rel = base · (1 − rate · max(0, t − onset))``.

    Every day but the last ``BASELINE_DAYS`` is tried as the onset; base = median of the days
    before it (of the first ``BASELINE_DAYS`` when fewer than 2), rate = the post-onset days'
    (1 − rel/base)/(t − onset) weighted by (t − onset) (the least-absolute-deviation slope through
    the hinge: a day just after the onset carries its noise divided by a small t); the smallest
    absolute residual wins. A straight line through the flat days and the ramp under-estimates the rate.
    """
    best = (float("inf"), 0.0, 0.0, float(np.median(rel[:BASELINE_DAYS])))
    for k in range(0, max(1, len(t_d) - BASELINE_DAYS)):
        t0 = float(t_d[k])
        base = float(np.median(rel[:k])) if k >= 2 else float(np.median(rel[:BASELINE_DAYS]))
        after = t_d > t0
        if not after.any():
            continue
        rate = _weighted_median((1.0 - rel[after] / base) / (t_d[after] - t0), t_d[after] - t0)
        if rate <= 0:
            continue
        resid = float(np.abs(rel - ramp_model(t_d, t0, rate, base)).sum())
        if resid < best[0]:
            best = (resid, t0, rate, base)
    return best[1], best[2], best[3]


STEP_NOT_RAMP = 0.5
"""An index drop is a step, not soiling, when the best two-level fit leaves less than this share of the
best ramp's absolute residual (:func:`looks_like_step`)."""


def looks_like_step(rel: np.ndarray, t_d: np.ndarray, fit: tuple[float, float, float] | None = None) -> bool:
    """Whether the index fell in one step (a string, a broken module, new shade) rather than as a ramp.

    Soiling accrues: the index of a soiled array falls day after day, and a ramp fits it better than
    two flat levels. An abrupt loss, level before and level after, fits two levels (split anywhere with
    ≥ 2 days each side, medians) with less than :data:`STEP_NOT_RAMP` × the L1 residual of
    :func:`hinge_fit`'s ramp (``fit``: that fit of ``rel``, when the caller has it). Seen on the demo
    stack: a 17 % string outage of 4 days, then a recovery, was reported as "soiling 3.45 %/day, 14.2 %
    before the cleaning" with 4752 kWh.
    """
    rel = np.asarray(rel, dtype=float)
    if len(rel) < 4:
        return False
    onset, rate, base = fit if fit is not None else hinge_fit(rel, t_d)
    ramp_l1 = float(np.abs(rel - ramp_model(t_d, onset, rate, base)).sum())
    step_l1 = min(
        float(np.abs(rel[:k] - np.median(rel[:k])).sum() + np.abs(rel[k:] - np.median(rel[k:])).sum())
        for k in range(2, len(rel) - 1)
    )
    return step_l1 < STEP_NOT_RAMP * ramp_l1


def ramp_model(t_d: np.ndarray, onset: float, rate: float, base: float) -> np.ndarray:
    """The index of :func:`hinge_fit`'s model at days ``t_d``."""
    return base * (1.0 - rate * np.clip(np.asarray(t_d, dtype=float) - onset, 0.0, None))


def ramp_energy_kwh(
    part: pd.DataFrame,
    onset: pd.Timestamp,
    rate_per_day: float,
    end: pd.Timestamp,
    ac_capacity_kw: float | None = None,
    measured_loss: pd.Series | None = None,
) -> float:
    """Energy (kWh) a ramp from ``onset`` at ``rate_per_day`` cost until ``end``: Σ (clean AC − AC)
    × bucket hours over ``part``'s buckets in ``[onset, end)`` (``ac_power_kw_avg``, 15-min), clean
    AC = AC / (1 − L), at most the inverter's ``ac_capacity_kw`` (a clipping inverter loses less).

    ``measured_loss`` (per local day, tz-aware midnights): the day's measured loss replaces the
    ramp's on the days it covers. Its noise is not clipped at 0, so it averages out over the days
    and an onset placed a little early adds no loss."""
    seg = part[(part.index >= onset) & (part.index < end)]
    t_d = np.asarray((seg.index - onset).total_seconds(), dtype=float) / 86400.0
    loss = np.clip(rate_per_day * t_d, 0.0, 0.9)
    if measured_loss is not None and len(measured_loss) and len(seg):
        day = seg.index.tz_convert(measured_loss.index.tz).normalize()
        measured = measured_loss.reindex(day).to_numpy(dtype=float)
        loss = np.where(np.isfinite(measured), np.clip(measured, -0.5, 0.9), loss)
    ac = seg["ac_power_kw_avg"].to_numpy(dtype=float)
    clean = ac / (1.0 - loss)
    if ac_capacity_kw is not None:
        clean = np.minimum(clean, np.maximum(ac, ac_capacity_kw))
    return float(np.nansum(clean - ac) * BUCKET_H)
