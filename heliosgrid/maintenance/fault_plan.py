"""Where the real-series evaluation injects its faults (:mod:`heliosgrid.maintenance.real_eval`).

Faults go on *producing* days: local days whose AC energy (irradiation on a POA-only station) is
at least :data:`PRODUCING_SHARE` of the series' 90th-percentile day. A day the plant did not
produce on (a storm outage, a logger that was down, a day missing from the file) carries no
energy to lose, so a trip injected there would score nothing and a recall computed over it would
mean nothing. Days missing from the file are not days of the series at all.

* A short series (< :data:`LONG_SERIES_DAYS` days with data) gets its point faults on the first
  two producing days after its first day (the first day is history).
* A long series gets one fault window every :data:`FAULT_SPACING_DAYS` days from day
  :data:`FIRST_FAULT_DAY` (history enough for the learned thresholds); each window's fault goes
  on the first producing day of the window. Each copy is replayed on the days around its fault
  (:func:`context`).

A series where no day qualifies says so (:attr:`FaultPlan.skipped`) instead of scoring nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from heliosgrid.maintenance import injection
from heliosgrid.maintenance.injection import Injected
from heliosgrid.maintenance.realdata import RealSeries

LONG_SERIES_DAYS = 14.0
"""A series with at least this many days of data gets faults injected into several windows, each
replayed from the day before the fault with the days before as history (a plant in service,
thresholds learned)."""
FIRST_FAULT_DAY = 10
FAULT_SPACING_DAYS = 25
PRODUCING_SHARE = 0.05
"""A day is a producing day when its energy is at least this share of the series' 90th-percentile
day (dimensionless): an overcast or snowy day still qualifies, an outage does not."""

SOILING_FIRST_DAY = 12
SOILING_SPACING_DAYS = 48
"""Soiling ramps start on day 12, 60, 108, … of a series (12 days of history; each replay spans 35 days,
so the copies never overlap)."""
SOILING_AFTER_DAYS = 22
"""Days of data a soiling ramp needs after its start: the 21-day ramp and the day of its cleaning."""

AFTER_DAYS = {"soiling": 25, "irradiance_drift": 12}
"""Days replayed after a fault's start on a long series (a drift goes on until recalibrated; the
clear-sky check needs clear days to see it)."""
BEFORE_DAYS = {"irradiance_drift": 21}
"""Days of history before a fault's start on a long series (default 10): the clear-sky drift check
takes its baseline from the 14 days before a clear day on the runner's 28-day window (ADR 0340)."""

Plan = tuple[str, pd.Timestamp, Callable[..., Injected]]


@dataclass
class FaultPlan:
    """The faults to inject into one series (type, UTC start, injector) and why any were left out."""

    faults: list[Plan]
    skipped: list[str] = field(default_factory=list)


def local_days(series: RealSeries) -> list[pd.Timestamp]:
    """The site-local days that have at least one reading, in order."""
    ts = series.readings["ts"].dt.tz_convert(series.site.timezone)
    return sorted(set(ts.dt.normalize()))


def producing_days(series: RealSeries) -> set[pd.Timestamp]:
    """Local days with energy ≥ :data:`PRODUCING_SHARE` × the 90th-percentile day (AC power, or POA
    irradiance on a station without AC)."""
    column = "ac_power_kw" if "ac_power" in series.sensors else "poa_w_m2"
    values = series.readings[column].clip(lower=0.0)
    day = series.readings["ts"].dt.tz_convert(series.site.timezone).dt.normalize()
    daily = values.groupby(day).sum()
    if daily.empty or float(daily.quantile(0.9)) <= 0.0:
        return set()
    return set(daily.index[daily >= PRODUCING_SHARE * float(daily.quantile(0.9))])


def fault_days(series: RealSeries) -> tuple[list[pd.Timestamp], list[pd.Timestamp], list[str]]:
    """(days of the point faults, days of soiling onsets, reasons for windows left out)."""
    days, producing = local_days(series), producing_days(series)
    if series.days < LONG_SERIES_DAYS:
        picks = [d for d in days[1:] if d in producing][:2]
        skipped = [] if len(picks) == 2 else [
            f"{len(picks)} producing day(s) after the first day, the point faults need 2 "
            f"(a producing day has ≥ {PRODUCING_SHARE:.0%} of the 90th-percentile day's energy)"
        ]
        return picks, [], skipped
    picks, skipped = [], []
    for i in range(FIRST_FAULT_DAY, len(days) - 5, FAULT_SPACING_DAYS):
        window = [d for d in days[i : min(i + FAULT_SPACING_DAYS, len(days) - 5)] if d in producing]
        if window:
            picks.append(window[0])
        else:
            skipped.append(f"no producing day from {days[i].date()}: the fault window there is left out")
    if not picks and not skipped:
        skipped.append(f"{len(days)} days with data: a fault window needs day {FIRST_FAULT_DAY} and 5 days after it")
    # Soiling (3 weeks) wherever 12 days of history and the ramp fit, every SOILING_SPACING_DAYS: a
    # year-long file gets ramps in every season, not only in its first winter.
    soil = [days[i] for i in range(SOILING_FIRST_DAY, len(days) - SOILING_AFTER_DAYS, SOILING_SPACING_DAYS)]
    return picks, soil, skipped


def plans(series: RealSeries) -> FaultPlan:
    """The issue's faults at fixed local times on the days of :func:`fault_days`."""
    picks, soil, skipped = fault_days(series)
    has_poa = "poa" in series.sensors
    hour = pd.Timedelta
    out: list[Plan] = []
    for d in picks:
        if "ac_power" in series.sensors:
            out += [
                ("inverter_trip", d + hour(hours=10), injection.trip),
                ("string_outage", d + hour(hours=11), injection.string_outage),
            ]
        out += [("comm_gap", d + hour(hours=10), injection.comm_gap)]
        if has_poa:
            out += [("stuck_sensor", d + hour(hours=9), injection.stuck_poa)]
    if has_poa and picks:
        # Long series: one drift per fault window, after the clear-sky reference's warm-up.
        drift_days = picks if series.days >= LONG_SERIES_DAYS else picks[:1]
        out += [("irradiance_drift", d, injection.irradiance_drift) for d in drift_days]
    if "ac_power" in series.sensors:  # soiling dims the power: a POA-only station has none to dim
        out += [("soiling", d, injection.soiling) for d in soil]
    return FaultPlan([(t, pd.Timestamp(s).tz_convert("UTC"), f) for t, s, f in out], skipped)


def context(series: RealSeries, fault_type: str, start: pd.Timestamp) -> pd.DataFrame:
    """The readings a faulted copy is replayed on: all of a short series; ±days around it on a long one."""
    if series.days < LONG_SERIES_DAYS:
        return series.readings
    after = pd.Timedelta(days=AFTER_DAYS.get(fault_type, 5))
    before = pd.Timedelta(days=BEFORE_DAYS.get(fault_type, 10))
    ts = series.readings["ts"]
    return series.readings[(ts >= start - before) & (ts < start + after)].reset_index(drop=True)
