"""Soiling on long real series: the long-window trend detector, clean and with ramps injected.

The maintenance runner analyses 7 days at a time (ADR 0180), too short to tell a 0.5 %/day ramp
from day-to-day scatter; :mod:`heliosgrid.maintenance.detectors.soiling_trend` needs ≥ 21 days.
This evaluation therefore slides a ``WINDOW_DAYS`` window one day at a time over the series'
15-minute features (exactly the frames the engine builds, :func:`site_features`) and runs the
detector on each, as a daily job with a 28-day lookback would:

* **clean**: every episode (overlapping findings of consecutive windows merged) is false;
  rate per 30 site-days;
* **injected**: a 3-week ramp (:func:`heliosgrid.maintenance.injection.soiling`, 0.5 %/day) every
  ``SPACING_DAYS`` from day ``FIRST_ONSET_DAY``; found when a window ending before the ramp's end
  + 1 day fires on it; delay = first firing window end − onset (days); energy error from the
  window that ends with the ramp; findings that do not overlap a ramp are false.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.maintenance import injection
from heliosgrid.maintenance.detectors.soiling_trend import detect_soiling_trend
from heliosgrid.maintenance.expected import site_features
from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
from heliosgrid.maintenance.realdata import RealSeries, pvdaq50_year, serf_east_psm3

WINDOW_DAYS = 28
FIRST_ONSET_DAY = 14
SPACING_DAYS = 30
RAMP_DAYS = 21


def _features(series: RealSeries, readings: pd.DataFrame) -> pd.DataFrame:
    rollup = rollup_15m(readings)
    grid = bucket_grid(rollup["bucket"].min(), rollup["bucket"].max() + pd.Timedelta(minutes=15))
    frames = device_frames(rollup, series.site, grid)
    return site_features(series.site, frames, {})[series.device.device_id]


def _slide(
    series: RealSeries, f: pd.DataFrame, first_end: pd.Timestamp, last_end: pd.Timestamp
) -> list[tuple[pd.Timestamp, Any]]:
    """(window end, finding) for every daily window ``[end − 28 d, end)`` that fires."""
    out = []
    end = first_end
    while end <= last_end:
        part = f[(f.index >= end - pd.Timedelta(days=WINDOW_DAYS)) & (f.index < end)]
        out += [(end, fd) for fd in detect_soiling_trend(part, series.device)]
        end += pd.Timedelta(days=1)
    return out


def _episodes(hits: list[tuple[pd.Timestamp, Any]]) -> int:
    """Findings of consecutive daily windows are one episode (one alert)."""
    count, last = 0, None
    for end, _ in hits:
        if last is None or end - last > pd.Timedelta(days=1):
            count += 1
        last = end
    return count


def _series_days(series: RealSeries) -> list[pd.Timestamp]:
    ts = series.readings["ts"].dt.tz_convert(series.site.timezone)
    return sorted(set(ts.dt.normalize()))


def _clean(series: RealSeries) -> dict[str, Any]:
    f = _features(series, series.readings)
    days = _series_days(series)
    hits = _slide(series, f, days[WINDOW_DAYS].tz_convert("UTC"), days[-1].tz_convert("UTC"))
    judged_days = max(0, len(days) - WINDOW_DAYS)
    episodes = _episodes(hits)
    return {
        "series": series.name,
        "judged_days": judged_days,
        "false_episodes": episodes,
        "false_per_30_days": round(episodes * 30.0 / judged_days, 3) if judged_days else None,
    }


def _injected(series: RealSeries, onset: pd.Timestamp) -> dict[str, Any]:
    ts = series.readings["ts"]
    context = series.readings[(ts >= onset - pd.Timedelta(days=WINDOW_DAYS)) & (ts < onset + pd.Timedelta(days=RAMP_DAYS + 2))]
    done = injection.soiling(context.reset_index(drop=True), onset, series.cadence_s, days=RAMP_DAYS)
    f = _features(series, done.readings)
    ramp_end = onset + pd.Timedelta(days=RAMP_DAYS)
    hits = _slide(series, f, onset + pd.Timedelta(days=1), ramp_end + pd.Timedelta(days=1))
    on_ramp = [(e, fd) for e, fd in hits if fd.started_at < ramp_end and fd.ended_at > onset]
    row: dict[str, Any] = {"series": series.name, "onset": str(onset), "found": bool(on_ramp)}
    row["false_episodes"] = _episodes([(e, fd) for e, fd in hits if (e, fd) not in on_ramp])
    if on_ramp:
        row["delay_days"] = round((on_ramp[0][0] - onset).total_seconds() / 86400.0, 2)
        last = min(on_ramp, key=lambda h: abs((h[0] - ramp_end).total_seconds()))[1]
        true = done.truth["energy_lost_kwh"]
        row["energy_true_kwh"] = round(true, 2)
        row["energy_estimated_kwh"] = round(last.energy_lost_kwh, 2)
        row["energy_error"] = round(abs(last.energy_lost_kwh - true) / true, 4) if true > 0 else None
    return row


def evaluate_soiling_long(series: list[RealSeries] | None = None) -> dict[str, Any]:
    """Clean false-alert rates and injected-ramp scores of the long-window soiling detector."""
    corpus = series if series is not None else [serf_east_psm3(), pvdaq50_year(2012)]
    clean = [_clean(s) for s in corpus]
    rows = []
    for s in corpus:
        days = _series_days(s)
        for i in range(FIRST_ONSET_DAY, len(days) - RAMP_DAYS - 2, SPACING_DAYS):
            rows.append(_injected(s, days[i].tz_convert("UTC")))
    found = sum(r["found"] for r in rows)
    false = sum(r["false_episodes"] for r in rows)
    errors = [r["energy_error"] for r in rows if r.get("energy_error") is not None]
    delays = [r["delay_days"] for r in rows if "delay_days" in r]
    judged = sum(c["judged_days"] for c in clean)
    return {
        "window_days": WINDOW_DAYS,
        "clean": clean,
        "false_alerts_per_30_site_days": round(sum(c["false_episodes"] for c in clean) * 30.0 / judged, 3) if judged else None,
        "faults": len(rows),
        "precision": round(found / (found + false), 4) if found + false else None,
        "recall": round(found / len(rows), 4) if rows else None,
        "median_delay_days": round(float(np.median(delays)), 2) if delays else None,
        "median_energy_error": round(float(np.median(errors)), 4) if errors else None,
        "injected": rows,
    }
