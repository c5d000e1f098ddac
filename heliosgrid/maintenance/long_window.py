"""The maintenance run's long window (28 days): the soiling trend and the clear-sky drift check (ADR 0340).

:func:`apply_long_window` builds the long window's features once and hands them to the soiling
trend (:mod:`heliosgrid.maintenance.soiling_long`) and to the clear-sky drift check below.

**Clear-sky drift on the long window: a sensor's reference from its own history.**

A POA sensor with no second irradiance reference at its site (no peer sensor, no power-implied
POA) is judged against the clear sky on clear days
(:mod:`heliosgrid.maintenance.detectors.clearsky_drift`). Its baseline is the median index of the
oldest clear days in the 14 days before the judged day, and it needs 2 of them: inside the
runner's 7-day analysis window a cloudy week left the check in warm-up ("not evaluated") on most
real series, and a drift older than the window had already become the window's baseline.

The runner reads ``TREND_LOOKBACK`` (28 days) of 15-minute rollups anyway (the soiling trend);
for these devices the clear-sky check runs on that long window instead:

* the 7-day pass's clear-sky drift findings and its "warm-up" reason of the device are replaced
  by the long window's verdict when the long window could judge (≥ 2 clear days before a clear day);
* otherwise the 7-day verdict stays (and its reason says why);
* buckets of the 7-day pass's stuck-sensor and comm-gap findings of the device are excluded;
* the level rule only: the trend rule (a Theil–Sen slope across the window's clear days) saw the
  seasonal change of the sensor's clear-sky ratio over 28 days as a drift — on PVDAQ system 15's
  four 60-day windows 4 false episodes in 240 site-days with it, none without it (ADR 0340).

Devices whose drift is judged against peers or metered power keep the 7-day check unchanged.
Cost: the clear-sky days of 28 days of 15-minute buckets per such sensor and run (the features are
shared with the soiling trend: :func:`long_window_features`).
"""

from __future__ import annotations

import pandas as pd

from heliosgrid.maintenance.capability import has_values
from heliosgrid.maintenance.detectors.clearsky_drift import detect_clearsky_drift, warmup_reason
from heliosgrid.maintenance.detectors.soiling_trend import history_days
from heliosgrid.maintenance.engine import SiteAnalysis, findings_mask
from heliosgrid.maintenance.expected import site_features
from heliosgrid.maintenance.soiling_long import apply_soiling_trend
from heliosgrid.physics import SiteSpec

MIN_LONG_HISTORY_DAYS = 8.0
"""Below this much history the long window holds nothing the 7-day window does not."""
_EXCLUDED_TYPES = ("stuck_sensor", "comm_gap")


def long_window_features(site: SiteSpec, long_frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Features (:func:`site_features`, default thermal model) of the long-window frames, or ``{}``
    when no device has :data:`MIN_LONG_HISTORY_DAYS` of history (a new plant: nothing to gain)."""
    if not any(history_days(f) >= MIN_LONG_HISTORY_DAYS for f in long_frames.values()):
        return {}
    return site_features(site, long_frames, {})


def clear_sky_judged(f: pd.DataFrame) -> bool:
    """The device's drift is judged against the clear sky: own POA sensor, no second reference."""
    return has_values(f, "poa_w_m2_avg") and not has_values(f, "poa_ref_w_m2") and "clearsky_poa_w_m2" in f


def apply_drift_long(site: SiteSpec, long_feats: dict[str, pd.DataFrame], analysis: SiteAnalysis) -> None:
    """Replace the 7-day clear-sky drift verdicts of ``analysis`` (in place) by the long window's,
    per device where ``long_feats`` (device → long-window features) could judge it."""
    for dev in site.devices:
        f = long_feats.get(dev.device_id)
        if f is None or not clear_sky_judged(f) or warmup_reason(f) is not None:
            continue
        short = [fd for fd in analysis.findings if fd.device_id == dev.device_id and fd.fault_type == "irradiance_drift"]
        if any(fd.evidence.get("reference") != "clear_sky" for fd in short):
            continue  # the 7-day window had a peer or power reference after all
        own = [fd for fd in analysis.findings if fd.device_id == dev.device_id]
        found = detect_clearsky_drift(f, dev, findings_mask(f.index, own, *_EXCLUDED_TYPES), trend_rule=False)
        for fd in found:
            # reaching the window's end: a drifted sensor does not recover on its own
            fd.evidence["ongoing"] = fd.ended_at >= f.index[-1]
            fd.evidence["window_days"] = round(history_days(f), 1)
        replaced = {id(fd) for fd in short}
        analysis.findings[:] = [fd for fd in analysis.findings if id(fd) not in replaced] + found
        reasons = analysis.not_evaluated.get(dev.device_id)
        if reasons is not None:
            reasons.pop("irradiance_drift", None)


def apply_long_window(site: SiteSpec, long_frames: dict[str, pd.DataFrame], analysis: SiteAnalysis) -> None:
    """The runner's long-window step for one site (in place on ``analysis``): soiling trend, then
    the clear-sky drift check, on one build of the long window's features."""
    feats = long_window_features(site, long_frames)
    apply_soiling_trend(site, long_frames, analysis, feats)
    apply_drift_long(site, feats, analysis)
