"""The long-window soiling trend in the maintenance run (ADR 0270): one soiling episode per device.

The runner analyses ``ANALYSIS_LOOKBACK`` (7 days) for every detector; a 3-week soiling ramp is
only told apart from day-to-day scatter on ≥ 21 days
(:mod:`heliosgrid.maintenance.detectors.soiling_trend`). The runner therefore also reads
``TREND_LOOKBACK`` (28 days) of 15-minute rollups and hands them here:

* per inverter, the trend runs on the 28-day features (AC power against the clear sky; trips,
  string outages, comm gaps and snow found by the 7-day pass are excluded);
* when the trend could be judged (≥ 21 days of history and ≥ 8 clear days), it is *the* soiling
  detector of that device: the 7-day detector's soiling findings are dropped (found or not by
  the trend). On the clean real series the 7-day detector's false soiling alerts came from days a
  trip or string finding used to cover; the trend, referenced to the clear sky, does not see them;
* otherwise (a new device, a cloudy month) the 7-day detector stays, and the trend's reason goes
  to ``not_evaluated`` under ``soiling_trend``; when the trend judged the device, the 7-day
  detector's own reason (e.g. "too noisy") is dropped: the device's soiling was evaluated.

Cost: one more feature build per site over 28 days of 15-minute buckets (2 688 per device) per
run, skipped when the device has less than 21 days of history.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from heliosgrid.maintenance.detectors import Finding
from heliosgrid.maintenance.detectors.soiling_trend import MIN_WINDOW_DAYS, history_days, soiling_trend
from heliosgrid.maintenance.engine import SiteAnalysis, findings_mask
from heliosgrid.maintenance.expected import site_features
from heliosgrid.physics import SiteSpec

TREND_LOOKBACK = timedelta(days=28)
_EMPTY = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
EXCLUDED_TYPES = ("inverter_trip", "string_outage", "comm_gap", "snow_loss")


def _excluded(index: pd.DatetimeIndex, findings: list[Finding], device_id: str) -> pd.Series:
    """Buckets of the device's trip / string-outage / comm-gap / snow findings of this run."""
    return findings_mask(index, [fd for fd in findings if fd.device_id == device_id], *EXCLUDED_TYPES)


def apply_soiling_trend(
    site: SiteSpec,
    long_frames: dict[str, pd.DataFrame],
    analysis: SiteAnalysis,
    long_feats: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Run the trend on ``long_frames`` (device → 15-min frame over ``TREND_LOOKBACK``) and merge it
    into ``analysis`` (in place): one soiling episode per device, reasons under ``soiling_trend``.
    ``long_feats``: the frames' features when the caller built them already (:mod:`.long_window`)."""
    ready = [d for d in site.inverters if history_days(long_frames.get(d.device_id, _EMPTY)) >= MIN_WINDOW_DAYS]
    if not ready:
        feats: dict[str, pd.DataFrame] = {}
    else:
        feats = long_feats if long_feats is not None else site_features(site, long_frames, {})
    judged: set[str] = set()
    trend: list[Finding] = []
    for dev in site.inverters:
        f = feats.get(dev.device_id)
        if f is None:
            days = history_days(long_frames.get(dev.device_id, _EMPTY))
            reason: str | None = f"{days:.1f} days of history, the long-window trend needs {MIN_WINDOW_DAYS:.0f}"
        else:
            found, reason = soiling_trend(f, dev, _excluded(f.index, analysis.findings, dev.device_id))
            trend += found
        if reason is None:
            judged.add(dev.device_id)
            analysis.not_evaluated.get(dev.device_id, {}).pop("soiling", None)  # the trend judged it
        else:
            analysis.not_evaluated.setdefault(dev.device_id, {})["soiling_trend"] = reason
    for fd in trend:
        # A ramp reaching the window's end goes on (soiling does not clear overnight); one that a cleaning
        # ended is over: its alert resolves at the cleaning instead of being confirmed for 4 more weeks.
        fd.evidence["ongoing"] = "cleaned_at" not in fd.evidence
    kept = [fd for fd in analysis.findings if not (fd.fault_type == "soiling" and fd.device_id in judged)]
    analysis.findings[:] = kept + trend
