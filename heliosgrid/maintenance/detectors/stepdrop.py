"""String outage as a CUSUM step test on the model ratio against the device's own baseline.

A string outage is a *partial, stable* drop of output against the model. With a measured POA
sensor the model ratio of a real plant scatters by 3–8 % per 15-minute bucket; with satellite
irradiance (no sensor) by 7–13 %, and the error is systematic (time of day, angle of incidence,
the satellite's pixel). A 25 % step is still large against that, if the test

* compares each bucket with the **device's own baseline** at that time of day: the median
  calibrated ratio of its healthy usable buckets over the :data:`BASELINE_DAYS` days before
  (at ± :data:`TOD_HALF_WIDTH`; without 3 such buckets the median over all hours of those days),
  which removes the model's diurnal error shape; buckets inside an episode are no baseline;
* accumulates the evidence (one-sided CUSUM on the relative residual ``d = ratio / baseline − 1``
  winsorised at ``−(δ + 2σ)``): ``S ← max(0, S − d − δ/2)``, alarm at ``S > h = 4σ``. ``σ`` is
  the robust spread (1.4826 · MAD) of ``d`` over the window's buckets outside any episode, ``δ``
  the smallest step the test is built to find, ``max(0.10, 2.5σ)`` (:func:`detectable_step`).
  Only usable buckets count (clear: irradiance ≥ 250 W/m² and ≥ 80 % of clear sky, complete,
  producing, not clipping, not excluded), so nights and clouds neither add nor clear evidence and
  an episode survives nights;
* confirms the drop is a string loss: the episode's median residual is between −85 % (≈ 0 is a
  trip's business) and −δ/2, and the residuals inside it are stable (their spread ≤ 2σ: passing
  clouds the satellite missed scatter far more).

The episode starts at the last bucket where ``S`` was 0 (the CUSUM change-point estimate) and
ends when an upward CUSUM on ``d − m`` (``m`` the episode's median residual) passes ``h``; it
is reported once it holds over :data:`MIN_EPISODE_BUCKETS` clear buckets. The alarm level is
raised (×1–2) when the residuals are correlated in time (:func:`_correlation_factor`). While a
device has no own history (its first :data:`WARMUP_FALLBACK_DAYS` days) the calibrated level 1.0
stands in for the baseline, with σ ≥ :data:`WARMUP_SIGMA`.

Energy lost = the episode's measured energy × ``L / (1 − L)`` over all its buckets with data
(low sun included) outside trips, gaps and snow days, with ``L`` the energy-weighted loss against
the device's level before *and after* the episode (a stable fractional loss: measured = (1 − L)
× baseline-corrected expected), so a trip inside it is counted once, by the trip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.base import healthy_daylight_mask
from heliosgrid.maintenance.detectors.thresholds import Thresholds
from heliosgrid.physics import DeviceSpec

BASELINE_DAYS = 7
"""History (days) of the per-device baseline ratio."""
TOD_HALF_WIDTH_S = 5400
"""Same time of day: ± 1.5 h."""
MIN_STEP = 0.15
"""Smallest step the test is built to find, whatever the device's scatter (fraction of output):
real single-inverter plants shift their daily level by up to ≈ 8 % (frost, dew, rain-cleaning)."""
STEP_SIGMAS = 2.5
"""The step to find is at least this many σ of the per-bucket residual."""
ALARM_SIGMAS = 4.0
"""CUSUM alarm level h in σ."""
SIGMA_FLOOR = 0.01
"""Floor of σ (a noise-free simulator would make h vanish)."""
WARMUP_SIGMA = 0.08
"""σ assumed while the device has < 8 buckets with an own-history baseline: the median real
per-bucket scatter (measured POA 3–8 %, satellite 7–13 %), the baseline then the calibrated 1.0."""
MAX_LOSS = 0.85
"""A drop deeper than this is a trip (output ≈ 0), not a string loss."""
MIN_CLEAR_POA_W_M2 = 250.0
MIN_CLEARNESS = 0.8
MIN_CLEARSKY_POA_W_M2 = 400.0
"""Low sun (dawn, dusk, winter edges) is no evidence: transposition and horizon shading errors."""
MIN_EPISODE_BUCKETS = 4
"""A step is reported once it holds over this many clear buckets (1 h at 15 min)."""
WARMUP_FALLBACK_DAYS = 2
"""Days after a device's first reading during which the calibrated level stands in for history."""
MAX_DETECTABLE_STEP = 0.35
"""Above this smallest detectable step the device's string test is "not evaluated": a string
outage of a quarter of the output could not be told from the irradiance reference's noise. 0.35, not
0.25, since on a noisy reference a loss must also hold on steady buckets (ADR 0540/0550): the
conservative 2.5 σ × correlation bound leaves quarter steps findable up to ≈ 35 %."""


def detectable_step(sigma: float) -> float:
    """The smallest relative step (fraction of output) the CUSUM test is built to find."""
    return float(max(MIN_STEP, STEP_SIGMAS * sigma))


@dataclass
class UsableBuckets:
    """The usable buckets of one inverter: times (s), calibrated ratio and positions in the frame."""

    secs: np.ndarray
    ratio: np.ndarray
    pos: np.ndarray
    expected_kw: np.ndarray
    warmup_until_s: int = -1
    """Buckets before this time (s) without own history compare with the calibrated level 1.0: the
    device started reporting inside the window (else the window's first days are history only)."""


def usable_buckets(f: pd.DataFrame, device: DeviceSpec, k: float, exclude: pd.Series | None, th: Thresholds) -> UsableBuckets:
    """Clear, complete, producing daylight buckets away from clipping, hot modules and exclusions."""
    usable = healthy_daylight_mask(f, device, exclude, th)
    if th.noisy_reference:
        # A noisy reference (learned σ > 3 %): clear, bright buckets only (clouds the sensor and the
        # array see differently, and low sun, are no evidence).
        usable &= f["poa_used_w_m2"] >= max(th.string_min_poa_w_m2, MIN_CLEAR_POA_W_M2)
        if "clearsky_poa_w_m2" in f:
            cs = f["clearsky_poa_w_m2"]
            usable &= (f["poa_used_w_m2"] >= max(th.string_min_clearness, MIN_CLEARNESS) * cs) & (cs >= MIN_CLEARSKY_POA_W_M2)
    u = f.loc[usable]
    secs = np.asarray(pd.DatetimeIndex(u.index).asi8, dtype=np.int64) // 10**9
    ratio = (u["ratio_expected"] / k).to_numpy(dtype=float)
    out = UsableBuckets(secs, ratio, f.index.get_indexer(u.index), u["expected_ac_kw"].to_numpy(dtype=float))
    has_data = (f["sample_count"].fillna(0) > 0).to_numpy()
    if len(f) and not has_data[0] and has_data.any():
        first = int(pd.Timestamp(f.index[int(np.argmax(has_data))]).value // 10**9)
        out.warmup_until_s = first + WARMUP_FALLBACK_DAYS * 86400
    return out


def baseline_at(s: UsableBuckets, i: int, healthy: np.ndarray, min_any: int = 6) -> float:
    """Median healthy ratio before bucket ``i``'s day (≥ 12 h earlier, ≤ BASELINE_DAYS) at its time of
    day (≥ 3 buckets), else over all its hours (≥ ``min_any`` buckets)."""
    now = s.secs[i]
    lo, hi = np.searchsorted(s.secs, [now - BASELINE_DAYS * 86400, now - 12 * 3600])
    if hi <= lo:
        return float("nan")
    window = slice(lo, hi)
    ok = healthy[window]
    tod = np.abs(((s.secs[window] - now) + 43200) % 86400 - 43200) <= TOD_HALF_WIDTH_S
    near = ok & tod
    if near.sum() >= 3:
        return float(np.median(s.ratio[window][near]))
    if ok.sum() >= max(1, min_any):
        return float(np.median(s.ratio[window][ok]))
    return float("nan")


def _baseline_or_level(s: UsableBuckets, i: int, healthy: np.ndarray, frozen: float = float("nan")) -> tuple[float, bool]:
    """(baseline, from own history). Without healthy history: the last episode's ``frozen``
    pre-onset baseline (never its own buckets: a fault is not its own reference, so later runs
    keep seeing the step, and it ends when the level returns); without an episode the whole
    history (there is no episode bucket in it); without any, the calibrated
    level 1.0 during the warm-up after a device's first reading; else NaN (no evidence)."""
    b = baseline_at(s, i, healthy)
    if np.isfinite(b) and b > 0:
        return b, True
    if np.isfinite(frozen):
        return frozen, True
    if not healthy.all():
        # An episode holds part of the history: its buckets are no reference, so the few healthy
        # buckets before it (any time of day, even one) stand in, at the warm-up σ.
        b = baseline_at(s, i, healthy, min_any=1)
        if np.isfinite(b) and b > 0:
            return b, False
    b = baseline_at(s, i, np.ones(len(s.secs), dtype=bool))
    if np.isfinite(b) and b > 0:
        return b, False
    return (1.0, False) if s.secs[i] < s.warmup_until_s else (float("nan"), False)


@dataclass
class Episode:
    """One step-down episode in usable positions ``[onset, stop)``, detected at ``detected``."""

    onset: int
    detected: int
    stop: int
    median_residual: float
    spread: float
    energy_loss: float = float("nan")
    """1 − Σ ratio·expected / Σ baseline·expected over the episode: the energy-weighted loss."""
    open: bool = False
    """Still below its baseline at the last usable bucket: it has not cleared (nights bridged)."""


def _residuals(s: UsableBuckets, healthy: np.ndarray) -> np.ndarray:
    """Relative residuals against the own-history baseline (NaN without history)."""
    d = np.full(len(s.secs), np.nan)
    for i in range(len(s.secs)):
        b = baseline_at(s, i, healthy)
        if np.isfinite(b) and b > 0:
            d[i] = s.ratio[i] / b - 1.0
    return d


def _mad_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _sigma(d: np.ndarray) -> float:
    """Per-bucket robust σ of the residual (NaN with < 8 values)."""
    x = d[np.isfinite(d)]
    if len(x) < 8:
        return float("nan")
    return float(max(SIGMA_FLOOR, _mad_sigma(x)))


def _correlation_factor(d: np.ndarray, sigma: float) -> float:
    """How much less the buckets' evidence is worth than white noise: clip(2 σ_hour / σ, 1, 2), σ_hour
    the spread of the mean of 4 consecutive buckets. White noise averages down by 2 over 4 buckets;
    the errors of a satellite irradiance (a cloud placed in the wrong pixel or hour) do not, so the
    CUSUM's alarm level is raised by this factor."""
    x = d[np.isfinite(d)]
    if len(x) < 12 or not sigma > 0:
        return 1.0
    hourly = pd.Series(x).rolling(4).mean().dropna().to_numpy()
    return float(np.clip(2.0 * _mad_sigma(hourly) / sigma, 1.0, 2.0))


def _cusum_params(sigma: float, corr: float) -> tuple[float, float, float]:
    """(drift κ = δ/2, alarm level h = 4σ × corr, winsorising floor −(δ + 2σ)) for a residual spread σ."""
    step = detectable_step(sigma)
    return step / 2, ALARM_SIGMAS * sigma * corr, -(step + 2 * sigma)


def cusum_episodes(s: UsableBuckets, sigma: float, corr: float = 1.0) -> tuple[list[Episode], np.ndarray]:
    """Sequential CUSUM over the usable buckets; returns the episodes and the residuals ``d``.

    The baseline of every bucket is recomputed from the healthy buckets so far: an episode's
    buckets are no baseline for what follows (its second day is compared with the days before it).
    """
    n = len(s.secs)
    healthy = np.ones(n, dtype=bool)
    d = np.full(n, np.nan)
    params = {True: _cusum_params(sigma, corr), False: _cusum_params(max(sigma, WARMUP_SIGMA), corr)}
    out: list[Episode] = []
    cusum, last_zero, current = 0.0, -1, None
    up, up_zero = 0.0, -1
    base = np.full(n, np.nan)
    frozen, frozen_own = float("nan"), True
    for i in range(n):
        b, own = _baseline_or_level(s, i, healthy, frozen)
        if b == frozen:
            own = frozen_own
        if not np.isfinite(b):
            if current is None and cusum == 0.0:
                last_zero = i  # no evidence here: a step found later does not start before it
            continue
        base[i] = b
        d[i] = s.ratio[i] / b - 1.0
        kappa, h, floor = params[own]
        if current is None:
            cusum = max(0.0, cusum - max(d[i], floor) - kappa)
            if cusum == 0.0:
                last_zero = i
            if cusum > h:
                current = Episode(last_zero + 1, i, i + 1, float("nan"), float("nan"))
                healthy[current.onset : i + 1] = False
                up, up_zero = 0.0, i
                frozen, frozen_own = _episode_reference(s, base[current.onset : i + 1], own), own
            continue
        healthy[i] = False
        part = d[current.onset : i + 1]
        m = float(np.nanmedian(part))
        if np.isfinite(part).sum() >= MIN_EPISODE_BUCKETS and m > -kappa:
            # Not a step: its median is not even half the smallest step (a noise excursion that
            # crossed h). Such an episode could never end (the upward sum gains d − m − κ < 0 on
            # healthy buckets) and would hide a real step that follows: drop it and start afresh.
            healthy[current.onset : i + 1] = True
            current, cusum, last_zero = None, 0.0, i
            frozen, frozen_own = float("nan"), True
            continue
        up = max(0.0, up + (d[i] - m) - kappa)
        if up == 0.0:
            up_zero = i
        if up > h:  # recovered: the episode ends after the last bucket where the upward sum was 0
            current.stop = up_zero + 1
            healthy[current.stop : i + 1] = True
            out.append(current)
            current, cusum, last_zero = None, 0.0, i
        else:
            current.stop = i + 1
    if current is not None:
        current.open = True
        out.append(current)
    _summarise(s, out, d)
    return out, d


def _episode_reference(s: UsableBuckets, found_by: np.ndarray, own: bool) -> float:
    """The reference frozen for a new episode: the median of the baselines ``found_by`` (from before
    its onset) that found it, or NaN (no frozen reference).

    It stands in wherever the days before hold no healthy bucket, during the episode and after it
    (the level it must return to), so its own buckets are never a baseline. Only a reference from
    own history (``own``): the warm-up's calibrated level is no level to return to (the calibration
    holds the fault's own days). Only on a young device (first reading inside the window): with
    weeks of history the days before hold healthy buckets, and freezing kept satellite-noise
    episodes open (measured: 3 more false alerts on PVDAQ 50 and SERF east)."""
    young = own and s.warmup_until_s >= 0
    return float(np.nanmedian(found_by)) if young else float("nan")


def _summarise(s: UsableBuckets, episodes: list[Episode], d: np.ndarray) -> None:
    """Set each episode's median residual, its robust spread and its energy-weighted loss."""
    outside = np.ones(len(d), dtype=bool)
    for ep in episodes:
        outside[ep.onset : ep.stop] = False
    for ep in episodes:
        part = d[ep.onset : ep.stop]
        part = part[np.isfinite(part)]
        ep.median_residual = float(np.median(part)) if len(part) else float("nan")
        ep.spread = float(1.4826 * np.median(np.abs(part - np.median(part)))) if len(part) else float("nan")
        ep.energy_loss = _energy_loss(s, ep, d, outside)


def _energy_loss(s: UsableBuckets, ep: Episode, d: np.ndarray, outside: np.ndarray) -> float:
    """Energy-weighted loss of an episode: 1 − (Σ ratio·expected / Σ expected) inside it over the
    same outside it — the healthy buckets within BASELINE_DAYS before *and after* (the level after a
    repair is as good a reference as the level before, and twice the data halves the baseline's
    error). Falls back to the time-of-day matched residuals with < 12 healthy buckets."""
    w, r = s.expected_kw, s.ratio
    inside = slice(ep.onset, ep.stop)
    lo, hi = np.searchsorted(s.secs, [s.secs[ep.onset] - BASELINE_DAYS * 86400, s.secs[ep.stop - 1] + BASELINE_DAYS * 86400])
    ref = np.zeros(len(r), dtype=bool)
    ref[lo:hi] = outside[lo:hi]
    if ref.sum() >= 12:
        level_in = (r[inside] * w[inside]).sum() / w[inside].sum()
        level_out = (r[ref] * w[ref]).sum() / w[ref].sum()
        return float(1.0 - level_in / level_out)
    dd = d[inside]
    ok = np.isfinite(dd) & (dd > -1.0)
    if not ok.any():
        return float("nan")
    return float(1.0 - (r[inside][ok] * w[inside][ok]).sum() / (r[inside][ok] / (1.0 + dd[ok]) * w[inside][ok]).sum())


def is_string_loss(ep: Episode, sigma: float) -> bool:
    """A partial, stable drop: median residual in [−MAX_LOSS, −δ/2], spread ≤ 2σ, ≥ 3 buckets."""
    step = detectable_step(sigma)
    return (
        ep.stop - ep.onset >= MIN_EPISODE_BUCKETS
        and -MAX_LOSS <= ep.median_residual <= -step / 2
        and ep.spread <= max(2.0 * sigma, 0.5 * abs(ep.median_residual))
    )


def device_sigma(s: UsableBuckets) -> tuple[float, float]:
    """(σ, correlation factor) of the relative residual outside the episodes of a first pass (a
    fault never widens its own test)."""
    plain = _residuals(s, np.ones(len(s.secs), dtype=bool))
    sigma = _sigma(plain)
    if not np.isfinite(sigma):
        return WARMUP_SIGMA, 1.0
    # The first pass's σ is at most the warm-up σ: the residuals against a history that holds the
    # fault's first day mix the step into σ and would hide the fault from the pass that removes it.
    if s.warmup_until_s >= 0:  # a young device (little history): see :func:`cusum_episodes`
        sigma = min(sigma, WARMUP_SIGMA)
    elif detectable_step(sigma * _correlation_factor(plain, sigma)) > MAX_DETECTABLE_STEP:
        # Too noisy to judge as measured? A step inside the window inflates that σ through the
        # baselines: the days after an outage that filled most of their 7 days are compared with the
        # fault's own days (+50 % after a third lost). The same residuals against baselines kept free
        # of the steps a capped pass finds (every bucket still counts, so noise does not shrink σ).
        unmixed = _sigma(cusum_episodes(s, WARMUP_SIGMA)[1])
        sigma = min(sigma, unmixed) if np.isfinite(unmixed) else sigma
    episodes, d = cusum_episodes(s, sigma)
    keep = np.ones(len(d), dtype=bool)
    for ep in episodes:
        if is_string_loss(ep, sigma):
            keep[ep.onset : ep.stop] = False
    again = _sigma(d[keep])
    sigma = again if np.isfinite(again) else sigma
    return sigma, _correlation_factor(d[keep], sigma)
