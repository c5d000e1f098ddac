"""Irradiance drift against the clear sky: the second irradiance reference every site has.

A single POA sensor has no peer to disagree with, but on clear periods the sky itself is a
reference: the ratio of the sensor to the clear-sky POA (``clearsky_poa_w_m2``, pvlib Ineichen with
the Linke-turbidity climatology, at the device's orientation) changes when the sensor drifts and
stays when the modules soil; the ratio of AC power to the clear-sky AC (``clearsky_ac_kw``) does the
opposite. Atmospheric changes (haze, smoke) move both together.

Per solar day (midnight = solar noon − 12 h, found from the clear-sky curve, so no time zone is
needed) the detector takes the day's *clear buckets*: clear-sky POA ≥ 300 W/m², a complete
bucket, and a sensor/clear-sky ratio within ``STABLE_TOLERANCE`` of its 5-bucket running median
(the scale-free variability criteria of Reno & Hansen 2016, as pvanalytics ``reno`` uses them: a
multiplicative drift does not change which buckets are clear). A day with ≥ ``MIN_CLEAR_BUCKETS``
clear buckets is a *clear day*; its index ``A`` is the median sensor/clear-sky ratio, ``B`` the
median AC/clear-sky-AC ratio.

Rule: on a clear day ``d`` the deviation ``D = A_d / baseline − 1`` where baseline = median ``A`` of
the oldest ``BASELINE_MAX_DAYS`` clear days in ``[d − BASELINE_SPAN_DAYS, d)`` that were not themselves
flagged (warm-up: at least
``MIN_BASELINE_DAYS`` of them; before that the day is not judged). Threshold = max(``DRIFT_FLOOR``,
4 × the robust scatter of the baseline days' ``A``). Two consecutive clear days beyond it, with
the same sign, raise ``irradiance_drift`` — unless AC power followed (its ``B`` moved by at least
half as much in the same direction: the sky or the array changed, not the sensor). A POA-only
station (no AC) has no such confirmation.

Trend rule (the runner's analysis window is 7 days, so a drift soon contaminates any baseline
in it): with ≥ 4 clear days spanning ≥ 3 days, a Theil–Sen slope of ``A`` whose 95 % interval
excludes 0 and which changes ``A`` by ≥ ``DRIFT_FLOOR`` across them, power not following, also
raises the alert. Warm-up: 2 clear days for the level rule, 4 for the trend rule, within the
analysis window; until then the detector says "not evaluated: clear-sky reference in warm-up".
A level-rule episode stays open until a clear day is back within the threshold (a drifted
sensor does not recover on its own; cloudy days are no evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import theilslopes

from heliosgrid.maintenance.detectors.base import Finding, complete, num
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.physics import DeviceSpec

CLEAR_MIN_CS_POA_W_M2 = 300.0
STABLE_TOLERANCE = 0.03
"""A clear bucket's sensor/clear-sky ratio is within 3 % of its 5-bucket running median."""
MIN_CLEAR_BUCKETS = 4
"""A clear day has ≥ 4 clear buckets (1 h)."""
CLEAR_DAY_FRACTION = 0.6
"""... and ≥ 60 % of the day's lit buckets (clear-sky POA ≥ 300 W/m²) are clear buckets."""
MIN_CLEARSKY_INDEX = 0.6
RELATIVE_CLEARNESS = 0.8
"""A clear day's index is ≥ 0.6 and ≥ 0.8 × the 90th percentile of the frame's candidate days."""
BASELINE_SPAN_DAYS = 14
MIN_BASELINE_DAYS = 2
BASELINE_MAX_DAYS = 5
"""Warm-up (level rule): a day is judged once ≥ 2 clear days lie in the 14 days before it."""
DRIFT_FLOOR = 0.06
"""Smallest drift flagged (fraction). The day-to-day scatter of the clear-sky ratio of a healthy
sensor is ≈ 2–5 % on the real series (PVDAQ system 15: aerosols and smoke, snow albedo, and the
seasonal change of the orientation error, up to 6 % in two autumn weeks). Measured on its four
60-day windows in 8-day analysis windows: 1 false episode in 240 days at 6 % or 8 %."""
POWER_FOLLOWS_FRACTION = 0.5


def solar_day(f: pd.DataFrame) -> pd.DatetimeIndex:
    """Each bucket's solar day (UTC-labelled): days change at solar noon − 12 h.

    Solar noon = the median UTC time of day at which ``clearsky_poa_w_m2`` peaks.
    """
    cs = f["clearsky_poa_w_m2"].fillna(0.0)
    utc_day = f.index.floor("1D")
    peak = cs.groupby(utc_day).idxmax()
    seconds = pd.Series([(t - t.floor("1D")).total_seconds() for t in peak if cs.loc[t] > 0], dtype=float)
    noon_s = float(seconds.median()) if len(seconds) else 43200.0
    shift = pd.Timedelta(seconds=noon_s - 43200.0)
    return (f.index - shift).floor("1D")


@dataclass
class ClearDays:
    """Per clear solar day: sensor/clear-sky index ``a``, power/clear-sky index ``b`` (NaN without
    AC), clear buckets ``n`` and the day's last clear bucket (for ``detected_at``)."""

    a: pd.Series
    b: pd.Series
    n: pd.Series
    last_bucket: pd.Series


def _power_index(f: pd.DataFrame) -> pd.Series:
    """AC power / clear-sky AC on unclipped buckets with clear-sky AC ≥ 20 % of its peak (NaN elsewhere)."""
    if "clearsky_ac_kw" not in f or "ac_power_kw_avg" not in f:
        return pd.Series(np.nan, index=f.index)
    cs_ac = f["clearsky_ac_kw"]
    usable = cs_ac >= 0.2 * float(cs_ac.max())
    if "near_clipping" in f:
        usable &= ~f["near_clipping"].astype(bool)
    return (f["ac_power_kw_avg"] / cs_ac).where(usable & (cs_ac > 0))


def clear_days(f: pd.DataFrame, th: Thresholds = DEFAULT, exclude: pd.Series | None = None, by: str = "poa") -> ClearDays:
    """The clear days of frame ``f`` (see the module docstring), chosen from the stability of the
    sensor's clear-sky ratio (``by="poa"``) or of the power's (``by="power"``: sites without a
    sensor, and soiling, which must not depend on the sensor it is checked against)."""
    cs = f["clearsky_poa_w_m2"]
    sensor = (f["poa_w_m2_avg"] / cs).where(cs >= CLEAR_MIN_CS_POA_W_M2) if "poa_w_m2_avg" in f else cs * np.nan
    power = _power_index(f)
    ratio = sensor if by == "poa" else power.where(cs >= CLEAR_MIN_CS_POA_W_M2)
    running = ratio.rolling(5, center=True, min_periods=5).median()
    stable = ((ratio / running - 1.0).abs() <= STABLE_TOLERANCE) & complete(f, th)
    if exclude is not None:
        stable &= ~exclude.reindex(f.index, fill_value=False).astype(bool)
    day = pd.Series(solar_day(f), index=f.index)
    clear = stable.to_numpy(dtype=bool)
    group = day[clear]
    n = ratio[clear].groupby(group).size()
    lit = ratio.notna().groupby(day).sum().reindex(n.index)
    level = ratio[clear].groupby(group).median()
    # Whole-day clear: most lit buckets stable, and not a uniformly overcast day (index ≥ 0.6 of
    # the frame's bright days' level for power, ≥ 0.6 absolute for the sensor, and ≥ 0.8 × the
    # frame's bright days: overcast days are stable too, but dark).
    floor = MIN_CLEARSKY_INDEX if by == "poa" else MIN_CLEARSKY_INDEX * float(level.quantile(0.9) if len(level) else np.nan)
    candidate = (n >= MIN_CLEAR_BUCKETS) & (n >= CLEAR_DAY_FRACTION * lit) & (level >= floor)
    bright = float(level[candidate].quantile(0.9)) if candidate.any() else float("nan")
    keep = n.index[candidate & (level >= RELATIVE_CLEARNESS * bright)]
    a = sensor[clear].groupby(group).median().reindex(keep)
    b = power[clear].groupby(group).median().reindex(keep)
    last = pd.Series(f.index[clear], index=f.index[clear]).groupby(group).max().reindex(keep)
    return ClearDays(a=a, b=b, n=n.reindex(keep), last_bucket=last)


@dataclass
class _Verdict:
    deviation: float
    threshold: float
    power_change: float
    flagged: bool


def _judge(days: ClearDays, i: int, flagged: np.ndarray) -> _Verdict | None:
    """Verdict on clear day ``i`` against its baseline; None during warm-up. ``flagged``: the earlier clear
    days found beyond their threshold, left out of the baseline (a drifted day must not become the
    reference of the next: two drifted days in a 14-day window had widened the threshold past the drift)."""
    d = days.a.index[i]
    lo = d - pd.Timedelta(days=BASELINE_SPAN_DAYS)
    before = (days.a.index >= lo) & (days.a.index < d) & ~flagged
    base_a = days.a[before].iloc[:BASELINE_MAX_DAYS]  # the oldest: not yet contaminated by a drift
    if len(base_a) < MIN_BASELINE_DAYS:
        return None
    ref = float(base_a.median())
    if not ref > 0:
        return None
    scatter = 1.4826 * float((base_a / ref - 1.0).abs().median())
    threshold = max(DRIFT_FLOOR, 4.0 * scatter)
    deviation = float(days.a.iloc[i]) / ref - 1.0
    base_b = days.b[before].iloc[:BASELINE_MAX_DAYS].dropna()
    b_now = float(days.b.iloc[i])
    power_change = b_now / float(base_b.median()) - 1.0 if len(base_b) and np.isfinite(b_now) else float("nan")
    followed = np.isfinite(power_change) and np.sign(power_change) == np.sign(deviation)
    followed = bool(followed and abs(power_change) >= POWER_FOLLOWS_FRACTION * abs(deviation))
    return _Verdict(deviation, threshold, power_change, abs(deviation) > threshold and not followed)


def judged_days(f: pd.DataFrame, th: Thresholds = DEFAULT, exclude: pd.Series | None = None) -> pd.DataFrame:
    """One row per clear day: ``a``, ``b``, ``deviation``, ``threshold``, ``power_change``,
    ``flagged`` (NaN / False during warm-up), ``last_bucket``."""
    days = clear_days(f, th, exclude)
    rows = []
    flagged = np.zeros(len(days.a), dtype=bool)
    for i in range(len(days.a)):
        v = _judge(days, i, flagged)
        flagged[i] = bool(v is not None and v.flagged)
        rows.append(
            {
                "a": float(days.a.iloc[i]),
                "b": float(days.b.iloc[i]),
                "deviation": v.deviation if v else np.nan,
                "threshold": v.threshold if v else np.nan,
                "power_change": v.power_change if v else np.nan,
                "judged": v is not None,
                "flagged": bool(v.flagged) if v else False,
                "last_bucket": days.last_bucket.iloc[i],
            }
        )
    columns = ["a", "b", "deviation", "threshold", "power_change", "judged", "flagged", "last_bucket"]
    return pd.DataFrame(rows, index=days.a.index, columns=columns)


def warmup_reason(f: pd.DataFrame, th: Thresholds = DEFAULT) -> str | None:
    """Why the clear-sky check cannot judge this frame's last days yet, or None when it can."""
    if "poa_w_m2_avg" not in f or not f["poa_w_m2_avg"].notna().any() or "clearsky_poa_w_m2" not in f:
        return "no POA sensor on the device"
    table = judged_days(f, th)
    if not table["judged"].any():
        return (
            f"clear-sky reference in warm-up: {len(table)} clear day(s) in the analysis window; a clear day is "
            f"judged once {MIN_BASELINE_DAYS} clear days precede it (a trend needs {TREND_MIN_DAYS})"
        )
    return None


def detect_clearsky_drift(
    f: pd.DataFrame, device: DeviceSpec, exclude: pd.Series | None = None, th: Thresholds = DEFAULT, *, trend_rule: bool = True
) -> list[Finding]:
    """``irradiance_drift`` of the device's POA sensor against the clear sky (module docstring);
    ``trend_rule=False``: the level rule only."""
    if "poa_w_m2_avg" not in f or "clearsky_poa_w_m2" not in f or not f["poa_w_m2_avg"].notna().any():
        return []
    table = judged_days(f, th, exclude)
    if not table["flagged"].any():
        if not trend_rule:
            return []
        trend = _trend_finding(f, device, clear_days(f, th, exclude))
        return [trend] if trend is not None else []
    flags = table["flagged"].to_numpy(dtype=bool)
    signs = np.sign(table["deviation"].fillna(0.0).to_numpy())
    out: list[Finding] = []
    i = 0
    while i < len(table) - 1:
        if not (flags[i] and flags[i + 1] and signs[i] == signs[i + 1]):
            i += 1
            continue
        j = i + 1
        while j + 1 < len(table) and flags[j + 1] and signs[j + 1] == signs[i]:
            j += 1
        out.append(_finding(f, device, table, i, j))
        i = j + 1
    return out


TREND_MIN_DAYS = 4
TREND_MIN_SPAN_DAYS = 3.0


def _trend_finding(f: pd.DataFrame, device: DeviceSpec, days: ClearDays) -> Finding | None:
    """Trend rule: the Theil–Sen slope of the clear days' index ``a`` (relative to its median)
    changes it by ≥ ``DRIFT_FLOOR`` across the frame's clear days, its 95 % interval excludes 0,
    and AC power (index ``b``) did not follow by half as much in the same direction."""
    if len(days.a) < TREND_MIN_DAYS:
        return None
    t_d = np.asarray((days.a.index - days.a.index[0]).total_seconds(), dtype=float) / 86400.0
    span = float(t_d[-1])
    if span < TREND_MIN_SPAN_DAYS:
        return None
    a = days.a.to_numpy(dtype=float) / float(days.a.median())
    slope, intercept, lo, hi = theilslopes(a, t_d)
    change = slope * span
    if abs(change) < DRIFT_FLOOR or lo <= 0.0 <= hi:
        return None
    power_change = float("nan")
    b = days.b.to_numpy(dtype=float)
    if np.isfinite(b).sum() >= TREND_MIN_DAYS:
        ok = np.isfinite(b)
        b_slope = theilslopes(b[ok] / np.median(b[ok]), t_d[ok])[0]
        power_change = float(b_slope * span)
        if np.sign(power_change) == np.sign(change) and abs(power_change) >= POWER_FOLLOWS_FRACTION * abs(change):
            return None  # the sky or the array changed, not the sensor
    fitted = intercept + slope * t_d
    onset = int(np.argmax(np.abs(fitted / fitted[0] - 1.0) > DRIFT_FLOOR / 2)) if len(fitted) > 1 else 0
    return Finding(
        site_id=device.site_id,
        device_id=device.device_id,
        fault_type="irradiance_drift",
        severity="warning",
        started_at=max(pd.Timestamp(days.a.index[max(0, onset - 1)]), pd.Timestamp(f.index[0])),
        ended_at=pd.Timestamp(f.index[-1]) + pd.Timedelta(minutes=15),
        detected_at=pd.Timestamp(days.last_bucket.iloc[-1]) + pd.Timedelta(minutes=15),
        evidence={
            "reference": "clear_sky",
            "rule": "trend",
            "drift_per_day": num(float(slope), 4),
            "max_deviation": num(abs(float(change))),
            "power_change": num(power_change),
            "clear_days": len(days.a),
        },
        title=f"{device.device_id}: POA sensor drifts {slope:+.1%}/day against the clear sky",
    )


def _finding(f: pd.DataFrame, device: DeviceSpec, table: pd.DataFrame, i: int, j: int) -> Finding:
    """The episode of flagged clear days ``i..j``: from the last clear day within half the threshold
    before it (or day ``i``) to the next clear day back within the threshold (or the frame's end)."""
    started = pd.Timestamp(table.index[i])
    for k in range(i - 1, -1, -1):
        row = table.iloc[k]
        if row["judged"] and abs(row["deviation"]) <= row["threshold"] / 2:
            started = pd.Timestamp(table.index[k]) + pd.Timedelta(days=1)
            break
    ended = pd.Timestamp(f.index[-1]) + pd.Timedelta(minutes=15)
    if j + 1 < len(table):
        ended = pd.Timestamp(table.index[j + 1])
    worst = table.iloc[i : j + 1]["deviation"]
    dev_value = float(worst.iloc[-1])
    power = table.iloc[i : j + 1]["power_change"]
    return Finding(
        site_id=device.site_id,
        device_id=device.device_id,
        fault_type="irradiance_drift",
        severity="warning",
        started_at=max(started, pd.Timestamp(f.index[0])),
        ended_at=ended,
        detected_at=pd.Timestamp(table["last_bucket"].iloc[i + 1]) + pd.Timedelta(minutes=15),
        evidence={
            "reference": "clear_sky",
            "poa_ratio_to_clear_sky_baseline": num(1.0 + dev_value),
            "max_deviation": num(float(worst.abs().max())),
            "threshold": num(float(table["threshold"].iloc[i])),
            "power_change": num(float(power.median())) if power.notna().any() else None,
            "clear_days": j - i + 1,
        },
        title=f"{device.device_id}: POA sensor reads {dev_value:+.1%} against the clear sky",
    )
