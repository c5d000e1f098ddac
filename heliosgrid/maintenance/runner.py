"""``run_maintenance``: read the database, run the detectors, update the alerts.

Called by the Airflow maintenance DAG and by ``heliosgrid maintenance run``. For a window
``[window_start, window_end)`` (UTC, floored to 15-minute buckets):

1. refresh the rollups on the plain-PostgreSQL backend (TimescaleDB aggregates are real-time);
2. read ``readings_15m`` from ``window_start − ANALYSIS_LOOKBACK`` (context the detectors need:
   yesterday's level for a step, several days for drift and soiling) — or from the start of the
   oldest active maintenance alert of those sites, at most ``MAX_EPISODE_LOOKBACK`` back, so an
   alert's energy lost always covers its whole episode; the same query reaches back
   ``TREND_LOOKBACK`` (28 days) before ``window_end`` for the long window (soiling trend, clear-sky drift);
3. run :func:`~heliosgrid.maintenance.engine.analyse_site` per site, then the long window
   (:func:`~heliosgrid.maintenance.long_window.apply_long_window`: one soiling
   episode per device; the clear-sky drift check against 28 days of the sensor's own history);
4. raise/update an alert for every finding that reaches into the window; findings that ended
   more than ``CLEAR_GRACE`` before ``window_end`` *and were followed by daylight with data* are
   resolved (the condition cleared — an outage at dusk is still there at dawn, one fault = one
   alert); active maintenance alerts of the scanned sites that no finding confirms are
   auto-resolved (soiling alerts once unconfirmed for ``SOILING_ABSENCE``: ``RESOLVE_AFTER_ABSENCE``, ADR 0520).

Devices are monitored from ``devices.commissioned_at`` or their first reading (migration 0080):
no communication gap before it. The summary's ``not_evaluated`` lists, per device, the
detectors that could not run and why (interval too coarse, sensor missing, too little history).

Running the same window twice gives the same alerts (idempotent): updates keep the episode's
earliest start, latest sighting and largest energy (string outages: the newest estimate of start and
energy, ADR 0560); a resolved episode is not reopened by a re-run over its window, but an auto-resolved
one that a later run finds going on past its end is (ADR 0530). A detector that could not judge a
device ("not evaluated") does not auto-resolve its alert.
Clipping findings are informational: they go to the summary, not to alerts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from heliosgrid import alerts
from heliosgrid.coverage import record_coverage
from heliosgrid.maintenance.detectors import ALL_TYPES, Finding
from heliosgrid.maintenance.engine import analyse_site_detail
from heliosgrid.maintenance.frames import bucket_grid, device_frames, load_fleet_from_db, load_monitoring_start, load_rollup_15m
from heliosgrid.maintenance.long_window import apply_long_window
from heliosgrid.maintenance.soiling_long import TREND_LOOKBACK
from heliosgrid.physics import SiteSpec
from heliosgrid.settings import Settings

log = logging.getLogger(__name__)

ANALYSIS_LOOKBACK = timedelta(days=7)
MAX_EPISODE_LOOKBACK = timedelta(days=30)
CLEAR_GRACE = timedelta(minutes=30)
ALERT_TYPES = tuple(t for t in ALL_TYPES if t != "clipping")
SOILING_ABSENCE = timedelta(days=7)
"""A soiling alert that no run confirms stays active until its last sighting is this old (a cleaning,
seen as a finding that ended, still resolves it at once). The long-window trend is a statistical test
on noisy clear-day indices: a slow loss drops in and out of it from one daily run to the next, and each
return opened a new alert (PVDAQ 50 2012 with satellite GHI: four soiling alerts between 24 May and
14 Jun for one trend; ADR 0520)."""
RESOLVE_AFTER_ABSENCE = {"soiling": SOILING_ABSENCE}
"""Fault types whose unconfirmed alerts wait this long after their last sighting before auto-resolving
(every other type: at once)."""


REVISED_IN_HINDSIGHT = frozenset({"string_outage"})
"""Fault types whose detector re-estimates a whole episode on every run that holds it, with the level
after it as well as before (:mod:`~heliosgrid.maintenance.detectors.stepdrop`): the newest estimate
replaces the alert's start and energy, also once the episode has ended (ADR 0560). Every other type
keeps the earliest start and largest energy."""


REVISION_MARGIN = timedelta(days=1)
"""A finding that starts within this of the analysis window's start revises nothing: the episode may have
begun before the window, which cut its span and energy, and the CUSUM had no earlier day to compare its
first day with."""


def revisable(fd: Finding, analysis_start: pd.Timestamp) -> bool:
    """May ``fd`` revise its alert? Its type is in :data:`REVISED_IN_HINDSIGHT` and it starts at least
    :data:`REVISION_MARGIN` after the run's analysis start (else the window may have cut its episode)."""
    return fd.fault_type in REVISED_IN_HINDSIGHT and fd.started_at >= analysis_start + REVISION_MARGIN


def reaches_window(fd: Finding, start: pd.Timestamp) -> bool:
    """Does ``fd`` concern a run starting at ``start``: it ends after it, or its episode is going on?"""
    return bool(fd.ended_at > start or fd.evidence.get("ongoing", False))


def absence_before_resolve(fault_type: str) -> timedelta:
    """How long an alert of ``fault_type`` that no run confirms stays active after its last sighting."""
    return RESOLVE_AFTER_ABSENCE.get(fault_type, timedelta(0))


def _utc(value: datetime, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return ts.tz_convert("UTC")


def _refresh_rollups(conn: psycopg.Connection) -> None:
    row = conn.execute("SELECT to_regprocedure('helios_refresh_rollups()') IS NOT NULL").fetchone()
    if row and row[0]:
        conn.execute("SELECT helios_refresh_rollups()")


def _evidence(fd: Finding) -> dict[str, Any]:
    return {
        **fd.evidence,
        "detected_at": fd.detected_at.isoformat(),
        "episode_start": fd.started_at.isoformat(),
        "episode_end": fd.ended_at.isoformat(),
    }


@dataclass
class _AlertUpdate:
    """What one run did to the alerts."""

    by_type: dict[str, int] = field(default_factory=dict)
    raised: int = 0
    resolved: int = 0
    active: int = 0
    energy_kwh: float = 0.0
    clipping_kwh: float = 0.0


@dataclass(frozen=True)
class RunWindow:
    """One run's window ``[start, end)``, its analysis start, the scanned sites, and the keys whose
    detector could not judge the device (``unjudged``: no evidence that a fault cleared, ADR 0560)."""

    start: pd.Timestamp
    end: pd.Timestamp
    analysis_start: pd.Timestamp
    scanned: list[str]
    unjudged: frozenset[alerts.AlertKey] = frozenset()


def _revise(conn: psycopg.Connection, settings: Settings, findings: list[Finding], run: RunWindow) -> None:
    """Each key's :data:`REVISED_IN_HINDSIGHT` findings of this run, ended or not, are its newest estimate
    of the key's episodes: they revise the alerts they overlap (ADR 0560)."""
    by_key: dict[alerts.AlertKey, list[alerts.EpisodeEstimate]] = {}
    for fd in findings:
        if fd.fault_type in REVISED_IN_HINDSIGHT:
            part = alerts.EpisodeEstimate(fd.started_at.to_pydatetime(), fd.ended_at.to_pydatetime(), fd.energy_lost_kwh,
                                          _evidence(fd), revisable(fd, run.analysis_start), fd.title)
            by_key.setdefault((fd.site_id, fd.device_id, fd.fault_type), []).append(part)
    for (site_id, device_id, fault_type), parts in by_key.items():
        alerts.revise_episode(conn, site_id=site_id, device_id=device_id, fault_type=fault_type, parts=parts,
                              as_of=run.end.to_pydatetime(), settings=settings)


def _update_alerts(conn: psycopg.Connection, settings: Settings, findings: list[Finding], run: RunWindow) -> _AlertUpdate:
    """Step 4: raise/update/resolve the alerts of the findings reaching into ``[start, end)``, then let
    the :data:`REVISED_IN_HINDSIGHT` findings revise the alerts they overlap; leave the alerts of
    ``run.unjudged`` keys active."""
    start, end, scanned = run.start, run.end, run.scanned
    relevant = [fd for fd in findings if reaches_window(fd, start)]
    active_keys: set[alerts.AlertKey] = set(run.unjudged)
    raised = resolved = 0
    energy = 0.0
    clipping_kwh = 0.0
    by_type: dict[str, int] = {}
    for fd in relevant:
        by_type[fd.fault_type] = by_type.get(fd.fault_type, 0) + 1
        if fd.fault_type == "clipping":
            clipping_kwh += fd.energy_lost_kwh
            continue
        alert_id = alerts.raise_alert(
            conn,
            site_id=fd.site_id,
            device_id=fd.device_id,
            source="maintenance",
            fault_type=fd.fault_type,
            severity=fd.severity,  # type: ignore[arg-type]
            title=fd.title,
            started_at=fd.started_at.to_pydatetime(),
            last_seen_at=min(fd.ended_at, end).to_pydatetime(),
            evidence=_evidence(fd),
            energy_lost_kwh=fd.energy_lost_kwh,
            recommended_action=fd.recommended_action,
            settings=settings,
        )
        raised += 1
        energy += fd.energy_lost_kwh
        # An episode followed only by night (or no data) has not cleared: it stays one alert.
        if fd.ended_at < end - CLEAR_GRACE and not fd.evidence.get("ongoing", False):
            before = alerts.get_alert(conn, alert_id).state
            alerts.resolve(conn, alert_id, alerts.AUTO_RESOLVER)
            resolved += before != "resolved"
        else:
            active_keys.add((fd.site_id, fd.device_id, fd.fault_type))
    _revise(conn, settings, findings, run)
    for absence in sorted({absence_before_resolve(t) for t in ALERT_TYPES}):
        types = [t for t in ALERT_TYPES if absence_before_resolve(t) == absence]
        resolved += alerts.resolve_absent(conn, "maintenance", types, active_keys, end.to_pydatetime(), site_ids=scanned,
                                          min_absence=absence)
    return _AlertUpdate(by_type, raised, resolved, len(active_keys), energy, clipping_kwh)


def run_maintenance(
    conn: psycopg.Connection,
    settings: Settings,
    window_start: datetime,
    window_end: datetime,
    *,
    site_ids: Collection[str] | None = None,
    refresh_rollups: bool = True,
) -> dict[str, Any]:
    """Run the detectors for ``[window_start, window_end)`` and update alerts; return a summary.

    The caller owns the transaction (the CLI commits on success). ``refresh_rollups=False`` skips
    step 1 for a caller that refreshed already (the fleet DAG refreshes once per batch: the refresh
    holds an advisory lock until the caller's transaction ends). Raises ``ValueError`` with a
    clear message for an empty or naive window or unknown sites.
    """
    clock = time.perf_counter()
    start, end = _window(window_start, window_end)
    fleet = _fleet(conn, site_ids)
    if refresh_rollups:
        _refresh_rollups(conn)
    scanned = [s.site_id for s in fleet]
    analysis_start = _analysis_start(conn, start, scanned)
    trend_start = end - TREND_LOOKBACK
    read_start = min(analysis_start, trend_start)  # one read: the soiling trend's 28 days
    rollup = load_rollup_15m(conn, read_start.to_pydatetime(), end.to_pydatetime(), scanned)
    findings, not_evaluated = _analyse(conn, fleet, rollup, (analysis_start, trend_start, end))
    unjudged = {(s.site_id, d.device_id, t) for s in fleet for d in s.devices for t in not_evaluated.get(d.device_id, {})}
    done = _update_alerts(conn, settings, findings, RunWindow(start, end, analysis_start, scanned, frozenset(unjudged)))
    summary = {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "analysis_start": analysis_start.isoformat(),
        "sites": scanned,
        "devices": sum(len(s.devices) for s in fleet),
        "read_start": read_start.isoformat(),
        "buckets_read": len(rollup),
        "findings": done.by_type,
        "alerts_raised_or_updated": done.raised,
        "alerts_resolved": done.resolved,
        "alerts_active": done.active,
        "energy_lost_kwh": round(done.energy_kwh, 3),
        "clipping_energy_kwh": round(done.clipping_kwh, 3),
        "not_evaluated": not_evaluated,
        "duration_s": round(time.perf_counter() - clock, 3),
    }
    record_coverage(conn, summary)  # "not evaluated: reason" for status, API and dashboard
    log.info("maintenance run %s .. %s: %s", start, end, summary)
    return summary


def _window(window_start: datetime, window_end: datetime) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The run's window floored to 15-min buckets (UTC); ``ValueError`` when empty or naive."""
    start = _utc(window_start, "window_start").floor("15min")
    end = _utc(window_end, "window_end").floor("15min")
    if end <= start:
        raise ValueError(f"empty window: window_end {end} must be after window_start {start} (15-min buckets)")
    return start, end


def _fleet(conn: psycopg.Connection, site_ids: Collection[str] | None) -> list[SiteSpec]:
    """The sites to scan (all by default); ``ValueError`` naming the unknown ones."""
    fleet = load_fleet_from_db(conn, site_ids)
    if site_ids is not None:
        missing = sorted(set(site_ids) - {s.site_id for s in fleet})
        if missing:
            raise ValueError(f"unknown site(s): {', '.join(missing)}")
    return fleet


def _analysis_start(conn: psycopg.Connection, start: pd.Timestamp, scanned: list[str]) -> pd.Timestamp:
    """``start`` − :data:`ANALYSIS_LOOKBACK`, reaching back to the oldest open maintenance alert
    (an episode keeps its evidence) but never more than :data:`MAX_EPISODE_LOOKBACK`."""
    row = conn.execute(
        "SELECT min(started_at) FROM alerts WHERE source = 'maintenance' AND state <> 'resolved' AND site_id = ANY(%s)",
        (scanned,),
    ).fetchone()
    analysis_start = start - ANALYSIS_LOOKBACK
    if row and row[0] is not None:
        analysis_start = max(min(analysis_start, pd.Timestamp(row[0]).floor("15min")), start - MAX_EPISODE_LOOKBACK)
    return analysis_start


def _analyse(
    conn: psycopg.Connection, fleet: list[SiteSpec], rollup: pd.DataFrame, bounds: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]
) -> tuple[list[Finding], dict[str, dict[str, str]]]:
    """Findings and "not evaluated" reasons of every site: the engine on the analysis window, then
    the long-window (soiling trend) pass; ``bounds`` = (analysis start, trend start, end)."""
    analysis_start, trend_start, end = bounds
    grid = bucket_grid(analysis_start, end)
    recent = rollup[rollup["bucket"] >= analysis_start] if len(rollup) else rollup
    long_rollup = rollup[rollup["bucket"] >= trend_start] if len(rollup) else rollup
    trend_grid = bucket_grid(trend_start, end)
    monitoring = load_monitoring_start(conn, [s.site_id for s in fleet])
    findings: list[Finding] = []
    not_evaluated: dict[str, dict[str, str]] = {}
    for site in fleet:
        if not site.devices:
            continue
        analysis = analyse_site_detail(site, device_frames(recent, site, grid, monitoring_start=monitoring), info=True)
        apply_long_window(site, device_frames(long_rollup, site, trend_grid, monitoring_start=monitoring), analysis)
        findings += analysis.findings
        not_evaluated.update({dev: reasons for dev, reasons in analysis.not_evaluated.items() if reasons})
    return findings, not_evaluated
