"""The string-outage detector: episodes of the CUSUM step test (:mod:`.stepdrop`) as findings.

An episode becomes a finding when it is a string loss (:func:`.stepdrop.is_string_loss`) and its
whole span, cloudy buckets included, loses energy too (:func:`span_confirms`, ADR 0480) and, on a
noisy reference, its loss holds on buckets whose model ratio is steady (:func:`loss_on_steady_buckets`,
ADR 0540). Its span
runs from its first to its last usable bucket, back-dated over the clouded or clipped buckets
between the last usable bucket before the step and the first one in it. An episode not yet
cleared (``open``) goes on to the end of the data, but not across a gap in the data of
:data:`MAX_BLIND_GAP` or more after its last evidence: the test cannot say whether the string was
repaired while the logger was down, so no energy is counted past the gap.

Energy lost = the span's measured energy × ``L / (1 − L)`` (``L`` = the episode's energy-weighted
loss, :func:`.stepdrop.cusum_episodes`), over its buckets with data outside trips, gaps and snow
days. The test says "not evaluated" (:class:`StringTest`) with too few usable buckets or a
smallest detectable step above :data:`MAX_DETECTABLE_STEP`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.base import Finding, episode, exclusion, num
from heliosgrid.maintenance.detectors.stepdrop import (
    MAX_DETECTABLE_STEP,
    MIN_EPISODE_BUCKETS,
    Episode,
    UsableBuckets,
    cusum_episodes,
    detectable_step,
    device_sigma,
    is_string_loss,
    usable_buckets,
)
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.maintenance.frames import BUCKET, BUCKET_H
from heliosgrid.physics import DeviceSpec

MAX_BLIND_GAP = pd.Timedelta(days=1)
"""A run of buckets without data this long after an open episode's last evidence ends its energy
count (the string's state after a logger outage is unknown until evidence returns)."""


def _open_end(f: pd.DataFrame, last: int) -> int:
    """End position of an open episode whose last usable bucket is at frame position ``last``: the
    end of the frame, or the start of the first data gap ≥ :data:`MAX_BLIND_GAP` after ``last``."""
    empty = (f["sample_count"].fillna(0) <= 0).to_numpy()[last + 1 :]
    run_needed = int(MAX_BLIND_GAP / BUCKET)
    run = 0
    for j, e in enumerate(empty):
        run = run + 1 if e else 0
        if run >= run_needed:
            return last + 1 + j - run + 1
    return len(f)


def _span(f: pd.DataFrame, s: UsableBuckets, ep: Episode, k: float, level: float) -> tuple[int, int]:
    """Frame positions ``[a, b)`` of an episode: from its first to its last usable bucket, the onset
    back-dated over the buckets with a model ratio below ``level`` (the partial bucket of the
    onset, and the cloudy, clipped or incomplete buckets between the last usable bucket before
    the step and the first one in it: the string was already lost there), never past that usable
    bucket or a night; the end widened by its partial bucket only (widened like the onset, the
    simulator's energy rose from +9 % to +11 %, measured)."""
    ratio_f = f["ratio_expected"].to_numpy() / k
    a = int(s.pos[ep.onset])
    first = int(s.pos[ep.onset - 1]) + 1 if ep.onset > 0 else 0
    while a > first and np.isfinite(ratio_f[a - 1]) and ratio_f[a - 1] < level:
        a -= 1
    b = int(s.pos[ep.stop - 1]) + 1
    if b < len(f) and np.isfinite(ratio_f[b]) and ratio_f[b] < level:
        b += 1
    return a, b


def _finding(
    f: pd.DataFrame, device: DeviceSpec, k: float, s: UsableBuckets, ep: Episode, sigma: float, busy: pd.Series
) -> Finding:
    base = float(np.nanmedian(s.ratio[max(0, ep.onset - 12) : ep.onset])) if ep.onset > 0 else float("nan")
    loss = -ep.median_residual
    a, b = _span(f, s, ep, k, (base if np.isfinite(base) else 1.0) * (1 - loss / 2))
    if ep.open:  # not cleared: the loss goes on to the end of the data (energy so far), not past a long gap
        b = max(b, _open_end(f, int(s.pos[ep.stop - 1])))
    part = f.iloc[a:b]
    # Every bucket with data (low sun included: the lost string lost its share there too), but not
    # the trips, gaps or snow days inside the span (their energy is theirs).
    own = ~busy.iloc[a:b].to_numpy(dtype=bool) & (part["sample_count"] > 0).to_numpy()
    measured_kwh = float(part["ac_power_kw_avg"][own].fillna(0.0).clip(lower=0).sum() * BUCKET_H)
    e_loss = ep.energy_loss if np.isfinite(ep.energy_loss) and 0 < ep.energy_loss < 1 else loss
    energy = measured_kwh * e_loss / (1.0 - e_loss)
    evidence = {
        "loss_fraction": num(loss),
        "ratio_before": num(base),
        "ratio_during": num(base * (1 - loss)) if np.isfinite(base) else None,
        "residual_sigma": num(sigma),
        "detectable_step": num(detectable_step(sigma)),
        "usable_buckets": ep.stop - ep.onset,
        "test": "cusum",
        "open": ep.open,
    }
    severity = "critical" if loss >= 0.3 else "warning"
    title = f"Inverter {device.device_id} lost {loss:.0%} of its output (string outage)"
    # Reported once the alarm has sounded and the step holds over MIN_EPISODE_BUCKETS clear buckets.
    detected = int(s.pos[max(ep.detected, ep.onset + MIN_EPISODE_BUCKETS - 1)]) + 1
    return episode(device, "string_outage", severity, f, (a, b), detected, title=title, evidence=evidence, energy_lost_kwh=energy)


SPAN_REFERENCE = pd.Timedelta(days=7)
"""History before an episode against which its whole span's energy ratio is compared."""
MIN_SPAN_REFERENCE_BUCKETS = 16
"""Fewer daylight buckets with data in that history (a young device) and the span check is skipped."""


def _energy_ratio(f: pd.DataFrame, k: float, busy: pd.Series, a: int, b: int) -> tuple[float, int]:
    """Σ measured / Σ expected AC energy over the daylight buckets with data in ``[a, b)`` outside
    ``busy`` and clipping (every other bucket, cloudy and low-sun ones included), and their number."""
    part = f.iloc[a:b]
    ok = (part["daylight"].to_numpy(dtype=bool) & (part["sample_count"] > 0).to_numpy() & ~busy.iloc[a:b].to_numpy(dtype=bool)
          & part["ac_power_kw_avg"].notna().to_numpy() & (part["expected_ac_kw"] > 0).to_numpy())
    if "near_clipping" in part:  # a clipping inverter hides a lost string's share there
        ok &= ~part["near_clipping"].fillna(False).to_numpy(dtype=bool)
    expected = float((part["expected_ac_kw"].to_numpy()[ok] * k).sum())
    measured = float(part["ac_power_kw_avg"].to_numpy()[ok].clip(min=0).sum())
    return (measured / expected if expected > 0 else float("nan")), int(ok.sum())


def span_confirms(
    f: pd.DataFrame, k: float, busy: pd.Series, a: int, b: int, loss: float, others: pd.Series | None = None
) -> bool:
    """Does the episode's whole span ``[a, b)`` lose energy too? Its measured/expected energy ratio
    over *all* its daylight buckets must be ≤ 1 − loss/2 of that ratio over the
    :data:`SPAN_REFERENCE` before it. A lost string loses its share in every bucket, clear or not;
    clouds that a satellite pixel calls clear depress a few "usable" buckets but, over the hours
    and days of the span, the satellite's irradiation balances out (PVDAQ 50 2012 H1 with PSM3 GHI:
    the days of the false string episodes kept 0.96–1.18 of their usual daily energy ratio).
    ``others``: buckets of the device's other string episodes, no reference (a string lost twice in
    a week is not compared with its first loss)."""
    span, _ = _energy_ratio(f, k, busy, a, b)
    start = int(f.index.searchsorted(f.index[a] - SPAN_REFERENCE))
    ref, n_ref = _energy_ratio(f, k, busy if others is None else busy | others, start, a)
    if n_ref < MIN_SPAN_REFERENCE_BUCKETS or not (np.isfinite(span) and np.isfinite(ref)) or ref <= 0:
        return True
    return span / ref <= 1.0 - loss / 2.0


MAX_STEADY_STEP = 0.05
"""Largest relative change of the model ratio from the previous bucket for a bucket to count as steady
(PVDAQ 50 with PSM3 GHI: ≈ 0.015 on clear buckets, 0.04–0.10 under clouds the satellite calls clear)."""


def steady_positions(f: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """Which frame ``positions`` have a model ratio (``ratio_expected``) within :data:`MAX_STEADY_STEP`
    of the previous bucket's. A lost string moves the ratio once and it stays; a sensor that sees the
    plant's clouds moves with the output, so the ratio stays steady too. Clouds that a satellite pixel
    (or a distant sensor) misses make the output, and so the ratio, jump from bucket to bucket."""
    r = f["ratio_expected"].to_numpy(dtype=float)
    prev = np.clip(positions - 1, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.abs(r[positions] / r[prev] - 1.0)
    return (positions > 0) & (step <= MAX_STEADY_STEP)


def loss_on_steady_buckets(f: pd.DataFrame, s: UsableBuckets, ep: Episode, d: np.ndarray, sigma: float) -> bool:
    """Does the loss hold where the plant itself saw a steady sky? At least
    :data:`MIN_EPISODE_BUCKETS` of the episode's usable buckets are steady
    (:func:`steady_positions`) and their median residual is a string loss's (≤ −δ/2)."""
    steady = steady_positions(f, s.pos[ep.onset : ep.stop])
    part = d[ep.onset : ep.stop][steady]
    part = part[np.isfinite(part)]
    return len(part) >= MIN_EPISODE_BUCKETS and float(np.median(part)) <= -detectable_step(sigma) / 2


MIN_USABLE_BUCKETS = 8
"""Fewer usable buckets in the analysis window (a snowed-in or overcast week) and the test says
"not evaluated" instead of going quiet."""


@dataclass
class StringTest:
    """Findings of the CUSUM string test, the residual spread σ and the smallest detectable step."""

    findings: list[Finding]
    sigma: float | None
    correlation: float = 1.0
    usable: int = -1
    """Usable (clear, healthy, complete daylight) buckets in the window; −1 when not counted."""

    @property
    def detectable_step(self) -> float | None:
        """2.5 σ × the correlation factor (≥ 15 %): correlated errors are worth fewer buckets."""
        return None if self.sigma is None else detectable_step(self.sigma * self.correlation)

    @property
    def evaluated(self) -> bool:
        step = self.detectable_step
        return step is None or step <= MAX_DETECTABLE_STEP

    @property
    def reason(self) -> str | None:
        """Why the test could not judge the device ("not evaluated"), or None when it could."""
        if 0 <= self.usable < MIN_USABLE_BUCKETS:
            return (
                f"{self.usable} usable bucket(s) in the analysis window (clear, complete, producing daylight, no snow, "
                f"trip or gap; needs {MIN_USABLE_BUCKETS}): no evidence for or against a string outage"
            )
        if self.evaluated or self.sigma is None or self.detectable_step is None:
            return None
        return (
            f"the model ratio scatters by {self.sigma:.0%} per clear bucket against the device's own baseline "
            f"(errors correlated over hours: ×{self.correlation:.1f}): the smallest step the CUSUM test can find is "
            f"{self.detectable_step:.0%} (> {MAX_DETECTABLE_STEP:.0%}); add a POA sensor or peers"
        )


def string_test(
    f: pd.DataFrame, device: DeviceSpec, k: float = 1.0, exclude: pd.Series | None = None, th: Thresholds = DEFAULT
) -> StringTest:
    """String outages of one inverter by the CUSUM step test (module doc); ``exclude`` = trips,
    gaps, overheating, snow days: neither evidence nor baseline, and no energy counted there.
    No findings when the smallest detectable step exceeds :data:`MAX_DETECTABLE_STEP`."""
    s = usable_buckets(f, device, k, exclude, th)
    if len(s.secs) < MIN_USABLE_BUCKETS:
        return StringTest([], None, usable=len(s.secs))
    sigma, corr = device_sigma(s)
    result = StringTest([], sigma, corr, usable=len(s.secs))
    if not result.evaluated:
        return result
    episodes, d = cusum_episodes(s, sigma, corr)
    busy = exclusion(f, exclude)
    findings = [
        _finding(f, device, k, s, ep, sigma, busy)
        for ep in episodes
        if is_string_loss(ep, sigma) and (not th.noisy_reference or loss_on_steady_buckets(f, s, ep, d, sigma))
    ]
    spans = [_positions(f, fd) for fd in findings]
    result.findings = []
    for i, fd in enumerate(findings):
        others = pd.Series(False, index=f.index)
        for j, (a, b) in enumerate(spans):
            if j != i:
                others.iloc[a:b] = True
        a, b = spans[i]
        if span_confirms(f, k, busy, a, max(b, a + 1), float(fd.evidence["loss_fraction"] or 0.0), others):
            result.findings.append(fd)
    return result


def _positions(f: pd.DataFrame, fd: Finding) -> tuple[int, int]:
    """Frame positions ``[a, b)`` of a finding's span."""
    a, b = (int(f.index.searchsorted(pd.Timestamp(t))) for t in (fd.started_at, fd.ended_at))
    return a, b
