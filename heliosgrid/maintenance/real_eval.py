"""Evaluation on real series: clean false-alert rates and injected faults, run as the DAG runs.

``heliosgrid maintenance evaluate --real --json``. For every series of
:mod:`heliosgrid.maintenance.realdata` the readings are rolled up exactly like ``readings_15m``
and replayed through :func:`dag_replay`: the maintenance runner's logic
(:mod:`heliosgrid.maintenance.runner` — analysis window = 7 days before the run window or back
to the oldest active alert, ≤ 30 days; findings reaching into the window raise or update the one
active alert per (device, fault type); an episode that ended and was followed by daylight with
evidence is resolved; unconfirmed active alerts are auto-resolved), with the alert book kept in
memory instead of the ``alerts`` table, one run per day of data.

* **Clean**: every alert on the unmodified real series is a false alert (snow episodes are
  ``snow_loss``, informational, and reported apart). Rate per detector per 30 site-days, per
  cadence.
* **Injected** (:mod:`heliosgrid.maintenance.injection`): one fault per copy of a series; a fault
  is found when an alert of its type on its device overlaps it (±1 h). Per fault type:
  precision = found faults / (found faults + alerts of the type that match no fault + extra
  alerts of a split fault), recall, median delay in daylight hours, median per-fault energy
  error |estimated − true| / true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.alert_episodes import assign_to_newest
from heliosgrid.maintenance.detectors import INFO_TYPES, Finding
from heliosgrid.maintenance.engine import analyse_site_detail
from heliosgrid.maintenance.fault_plan import LONG_SERIES_DAYS, context, plans
from heliosgrid.maintenance.file_faults import file_faults, file_freezes, file_gaps, overlaps, true_on_file
from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
from heliosgrid.maintenance.injection import Injected
from heliosgrid.maintenance.long_window import apply_long_window
from heliosgrid.maintenance.realdata import RealSeries, load_corpus
from heliosgrid.maintenance.runner import (
    ANALYSIS_LOOKBACK,
    CLEAR_GRACE,
    MAX_EPISODE_LOOKBACK,
    REVISED_IN_HINDSIGHT,
    absence_before_resolve,
    reaches_window,
    revisable,
)
from heliosgrid.maintenance.soiling_long import TREND_LOOKBACK
from heliosgrid.physics import SiteSpec

INFORMATIONAL = (*INFO_TYPES, "snow_loss")


@dataclass
class BookAlert:
    """One alert of the in-memory alert book (same update rules as :func:`heliosgrid.alerts.raise_alert`)."""

    device_id: str
    fault_type: str
    started_at: pd.Timestamp
    last_seen_at: pd.Timestamp
    detected_at: pd.Timestamp
    energy_lost_kwh: float
    resolved: bool = False
    findings: int = 1
    estimated_as_of: pd.Timestamp | None = None
    """Data time of the hindsight estimate the alert holds (ADR 0560), None without one."""


@dataclass
class ReplayResult:
    """Alerts of a replay and the detectors that could not run (device → detector → reason)."""

    alerts: list[BookAlert]
    not_evaluated: dict[str, dict[str, str]] = field(default_factory=dict)


class AlertBook:
    """One active alert per (device, fault type); monotone updates, but hindsight revisions of the
    :data:`REVISED_IN_HINDSIGHT` types (ADR 0560); a resolved episode reopens only when a later run finds it
    going on past its end (ADR 0530)."""

    def __init__(self) -> None:
        self.alerts: list[BookAlert] = []

    def active(self, device_id: str, fault_type: str) -> BookAlert | None:
        for a in self.alerts:
            if not a.resolved and a.device_id == device_id and a.fault_type == fault_type:
                return a
        return None

    def revise(self, findings: list[Finding], as_of: pd.Timestamp, analysis_start: pd.Timestamp) -> None:
        """One run's :data:`~.runner.REVISED_IN_HINDSIGHT` findings revise the alerts they overlap, as
        :func:`heliosgrid.alerts.revise_episode`: each finding goes to the newest alert of its key it
        overlaps; an alert takes its findings' earliest start and summed energy, unless one of them may
        be cut by the window (:func:`~.runner.revisable`) or the alert holds a newer estimate."""
        by_key: dict[tuple[str, str], list[Finding]] = {}
        for fd in findings:
            if fd.fault_type in REVISED_IN_HINDSIGHT:
                by_key.setdefault((fd.device_id, fd.fault_type), []).append(fd)
        for (device_id, fault_type), parts in by_key.items():
            spans = [(i, a.started_at, a.last_seen_at) for i, a in reversed(list(enumerate(self.alerts)))
                     if a.device_id == device_id and a.fault_type == fault_type]
            for i, group in assign_to_newest(spans, parts).items():
                a = self.alerts[i]
                newer = a.estimated_as_of is None or a.estimated_as_of <= as_of
                if newer and all(revisable(fd, analysis_start) for fd in group):
                    a.started_at = min(min(fd.started_at for fd in group), a.last_seen_at)
                    a.energy_lost_kwh = float(sum(fd.energy_lost_kwh for fd in group))
                    a.estimated_as_of = as_of

    def raise_alert(self, fd: Finding, window_end: pd.Timestamp) -> BookAlert:
        last_seen = min(fd.ended_at, window_end)
        resolved = [a for a in self.alerts if a.resolved and a.device_id == fd.device_id and a.fault_type == fd.fault_type]
        for a in resolved:
            if a.started_at <= fd.started_at and a.last_seen_at >= last_seen:
                return a
        active = self.active(fd.device_id, fd.fault_type)
        if active is None:
            # The same episode found again and going on past its auto-resolved alert's end: reopened
            # (as :func:`heliosgrid.alerts.raise_alert`), not a second alert for one fault (ADR 0530).
            active = next((a for a in reversed(resolved) if fd.started_at <= a.last_seen_at < last_seen), None)
            if active is not None:
                active.resolved = False
        if active is None:
            new = BookAlert(fd.device_id, fd.fault_type, fd.started_at, last_seen, fd.detected_at, fd.energy_lost_kwh)
            self.alerts.append(new)
            return new
        a = active
        a.started_at = min(a.started_at, fd.started_at)
        a.last_seen_at = max(a.last_seen_at, last_seen)
        a.detected_at = min(a.detected_at, fd.detected_at)
        a.energy_lost_kwh = max(a.energy_lost_kwh, fd.energy_lost_kwh)
        a.findings += 1
        return a

    def oldest_active_start(self) -> pd.Timestamp | None:
        starts = [a.started_at for a in self.alerts if not a.resolved]
        return min(starts) if starts else None


def _run_window(
    book: AlertBook,
    site: SiteSpec,
    rollup: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    monitoring_start: Mapping[str, pd.Timestamp | None],
) -> dict[str, dict[str, str]]:
    """One maintenance run over ``[start, end)`` (the runner's steps 2–4, alerts in ``book``)."""
    analysis_start = start - ANALYSIS_LOOKBACK
    oldest = book.oldest_active_start()
    if oldest is not None:
        analysis_start = max(min(analysis_start, oldest.floor("15min")), start - MAX_EPISODE_LOOKBACK)
    part = rollup[(rollup["bucket"] >= analysis_start) & (rollup["bucket"] < end)]
    frames = device_frames(part, site, bucket_grid(analysis_start, end), monitoring_start=monitoring_start)
    analysis = analyse_site_detail(site, frames, info=True)
    trend_start = end - TREND_LOOKBACK
    long_part = rollup[(rollup["bucket"] >= trend_start) & (rollup["bucket"] < end)]
    apply_long_window(
        site, device_frames(long_part, site, bucket_grid(trend_start, end), monitoring_start=monitoring_start), analysis
    )
    # A detector that could not judge a device is no evidence that its fault cleared (ADR 0560).
    confirmed = {(dev, t) for dev, reasons in analysis.not_evaluated.items() for t in reasons}
    for fd in analysis.findings:
        if not reaches_window(fd, start) or fd.fault_type == "clipping":
            continue
        alert = book.raise_alert(fd, end)
        if fd.ended_at < end - CLEAR_GRACE and not fd.evidence.get("ongoing", False):
            alert.resolved = True
        elif not alert.resolved:
            confirmed.add((fd.device_id, fd.fault_type))
    book.revise(analysis.findings, end, analysis_start)
    for a in book.alerts:
        unseen_since = end - absence_before_resolve(a.fault_type)
        if not a.resolved and (a.device_id, a.fault_type) not in confirmed and a.last_seen_at <= unseen_since:
            a.resolved = True
    return analysis.not_evaluated


def dag_replay(
    site: SiteSpec, readings: pd.DataFrame, step: pd.Timedelta = pd.Timedelta(days=1), runs_from: pd.Timestamp | None = None
) -> ReplayResult:
    """Roll ``readings`` up and run the maintenance runner's logic every ``step`` over them.

    ``runs_from``: the first run's start (default: the first reading's day). Readings before it are
    the history a plant in service has: each run's analysis window still reaches back
    :data:`ANALYSIS_LOOKBACK` into them, so learned thresholds are out of warm-up.
    """
    rollup = rollup_15m(readings)
    first = pd.Timestamp(readings["ts"].min())
    last = pd.Timestamp(readings["ts"].max())
    monitoring_start = {d: first for d in readings["device_id"].unique()}
    book = AlertBook()
    not_evaluated: dict[str, dict[str, str]] = {}
    t = max(first.floor("1D"), runs_from.floor("1D")) if runs_from is not None else first.floor("1D")
    data_end = last.floor("15min")
    while t < data_end:
        # The last run ends with the data's last complete bucket (the runner also floors its end to
        # a bucket boundary): the series stops there, the device did not go silent.
        for dev, reasons in _run_window(book, site, rollup, t, min(t + step, data_end), monitoring_start).items():
            not_evaluated.setdefault(dev, {}).update(reasons)
        t += step
    return ReplayResult(book.alerts, not_evaluated)


def daylight_hours_between(site: SiteSpec, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Hours of daylight (clear-sky AC above 10 % of nameplate) in ``[start, end)``; 0 when end ≤ start."""
    from heliosgrid.physics import clearsky_ac_power_kw

    if end <= start:
        return 0.0
    times = pd.date_range(start.floor("5min"), end, freq="5min", inclusive="left")
    if len(times) == 0:
        return 0.0
    cs = np.asarray(clearsky_ac_power_kw(site, times), dtype=float)
    return float((cs > 0.1 * site.ac_capacity_kw).sum() * 5 / 60)


def per_detector_rate(alerts: list[BookAlert], site_days: float) -> dict[str, float]:
    """Alerts per fault type per 30 site-days (informational types excluded)."""
    counts: dict[str, int] = {}
    for a in alerts:
        if a.fault_type not in INFORMATIONAL:
            counts[a.fault_type] = counts.get(a.fault_type, 0) + 1
    return {k: round(v * 30.0 / site_days, 3) for k, v in sorted(counts.items())} if site_days > 0 else {}


def summarise_fault(
    alerts: list[BookAlert], device_id: str, fault_type: str, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, Any]:
    """Matched alerts of one injected fault: ``hits``, ``unmatched`` (same type elsewhere), first detection, energy."""
    tol = pd.Timedelta(hours=1)
    same = [a for a in alerts if a.device_id == device_id and a.fault_type == fault_type]
    hits = [a for a in same if a.started_at < end + tol and a.last_seen_at > start - tol]
    return {
        "hits": len(hits),
        "unmatched": len(same) - len(hits),
        "detected_at": min((a.detected_at for a in hits), default=None),
        "energy_kwh": float(sum(a.energy_lost_kwh for a in hits)),
    }


# --------------------------------------------------------------------------------------------
# the corpus run: clean and injected

DERIVED_INPUTS_REASON = "irradiance and temperature are satellite/reanalysis values, not sensors"
TRANSPOSED_GHI_REASON = "the irradiance is transposed from GHI: no plane-of-array sensor to judge"
CLEAR_SKY_REASON = "no irradiance in the file (the clear sky is the reference): no sensor to judge"
"""Series without irradiance or temperature sensors: the sensor detectors have nothing to judge."""
SENSOR_TYPES = ("stuck_sensor", "irradiance_drift", "overheating")


POA_ONLY_REASON = "no AC power: a POA-only station (only the sensor detectors and comm_gap judge)"
LOSS_TYPES = ("inverter_trip", "string_outage", "soiling", "overheating")


def _score_fault(series: RealSeries, fault_type: str, start: pd.Timestamp, inject: Callable[..., Injected]) -> dict[str, Any]:
    done = inject(context(series, fault_type, start), start, series.cadence_s)
    runs_from = start - pd.Timedelta(days=1) if series.days >= LONG_SERIES_DAYS else None
    replay = dag_replay(series.site, done.readings, runs_from=runs_from)
    truth = done.truth
    own = file_faults(series)
    # An alert over one of the file's own faults that does not reach the injected one is true, not false.
    injected = [(truth["started_at"], truth["ended_at"])]
    alerts = [a for a in replay.alerts if not true_on_file(a, own) or overlaps(a, injected)]
    hit = summarise_fault(alerts, truth["device_id"], fault_type, truth["started_at"], truth["ended_at"])
    row: dict[str, Any] = {"series": series.name, "fault_type": fault_type, "started_at": str(truth["started_at"]), **hit}
    row["detected_at"] = str(hit["detected_at"]) if hit["detected_at"] is not None else None
    if hit["detected_at"] is not None:
        row["delay_daylight_h"] = round(daylight_hours_between(series.site, truth["started_at"], hit["detected_at"]), 3)
    if truth["energy_lost_kwh"] > 0 and hit["hits"]:
        row["energy_true_kwh"] = round(truth["energy_lost_kwh"], 3)
        row["energy_error"] = round(abs(hit["energy_kwh"] - truth["energy_lost_kwh"]) / truth["energy_lost_kwh"], 4)
    reasons = replay.not_evaluated.get(truth["device_id"], {})
    if fault_type in reasons and not hit["hits"]:  # a detector that found the fault judged it
        row["not_evaluated"] = reasons[fault_type]
    return row


def _aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fault_type in sorted({r["fault_type"] for r in rows}):
        rs = [r for r in rows if r["fault_type"] == fault_type]
        found = sum(1 for r in rs if r["hits"])
        false = sum(r["unmatched"] + max(0, r["hits"] - 1) for r in rs)
        delays = [r["delay_daylight_h"] for r in rs if "delay_daylight_h" in r]
        errors = [r["energy_error"] for r in rs if "energy_error" in r]
        judged = [r for r in rs if "not_evaluated" not in r]
        out[fault_type] = {
            "faults": len(rs),
            "not_evaluated_faults": len(rs) - len(judged),
            "recall_where_evaluated": round(sum(1 for r in judged if r["hits"]) / len(judged), 4) if judged else None,
            "found": found,
            "false_or_split_alerts": false,
            "precision": round(found / (found + false), 4) if found + false else None,
            "recall": round(found / len(rs), 4) if rs else None,
            "median_delay_h": round(float(np.median(delays)), 3) if delays else None,
            "median_energy_error": round(float(np.median(errors)), 4) if errors else None,
            "missed": [
                f"{r['series']} {r['started_at']}" + (f" (not evaluated: {r['not_evaluated']})" if "not_evaluated" in r else "")
                for r in rs
                if not r["hits"]
            ],
        }
    return out


def _clean(series: RealSeries) -> tuple[list[BookAlert], dict[str, str], dict[str, int]]:
    """False alerts on the unmodified series, the detectors' reasons, and per type the alerts over the
    file's own faults (:mod:`.file_faults`: true alerts, left out of the false ones)."""
    replay = dag_replay(series.site, series.readings)
    reasons = dict(replay.not_evaluated.get(series.device.device_id, {}))
    own = file_faults(series)
    alerts = [a for a in replay.alerts if not true_on_file(a, own)]
    true_on_own = {t: sum(a.fault_type == t and true_on_file(a, own) for a in replay.alerts) for t in own}
    if "poa" not in series.sensors:
        alerts = [a for a in alerts if a.fault_type not in SENSOR_TYPES]
        why = (TRANSPOSED_GHI_REASON if "transposed_ghi" in series.sensors
               else CLEAR_SKY_REASON if "clear_sky_poa" in series.sensors else DERIVED_INPUTS_REASON)
        reasons.update(dict.fromkeys(SENSOR_TYPES, why))
    if "ac_power" not in series.sensors:
        alerts = [a for a in alerts if a.fault_type not in LOSS_TYPES]
        reasons.update(dict.fromkeys((*LOSS_TYPES, "snow_loss"), POA_ONLY_REASON))
    return alerts, reasons, true_on_own


def _series_exclusions(series: RealSeries) -> tuple[str, ...]:
    """Fault types a series cannot judge at all (no POA sensor: sensor types; no AC: loss types)."""
    out: tuple[str, ...] = ()
    if "poa" not in series.sensors:
        out += SENSOR_TYPES
    if "ac_power" not in series.sensors:
        out += LOSS_TYPES
    return out


def rates_from_series(rows: list[dict[str, Any]]) -> dict[str, float]:
    """False alerts per fault type per 30 site-days, over the site-days of the series that can judge
    the type (``judged_types``): a POA-only station does not dilute the trip rate."""
    from heliosgrid.contract import FAULT_TYPES

    out: dict[str, float] = {}
    for t in FAULT_TYPES:
        judged = [r for r in rows if t in r.get("judged_types", FAULT_TYPES)]
        days = sum(r["site_days"] for r in judged)
        out[t] = round(sum(r["false_alerts"][t] for r in judged) * 30.0 / days, 3) if days > 0 else 0.0
    return out


def own_fault_alert_rates(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Alerts per 30 site-days over the file's own faults (``comm_gap`` on its gaps, ``stuck_sensor`` on its frozen
    sensor), scored as true and so left out of the false-alert rates: the alert volume an operator would see there.
    A logger that sleeps at night once raised a critical comm_gap every night here (ADR 0720) while the
    false-alert rate stayed 0."""
    days = sum(r["site_days"] for r in rows)
    keys = {"comm_gap": "comm_gap_alerts_on_file_gaps", "stuck_sensor": "stuck_sensor_alerts_on_file_freezes"}
    return {t: round(sum(r[k] for r in rows) * 30.0 / days, 3) if days > 0 else 0.0 for t, k in keys.items()}


def evaluate_real(
    names: tuple[str, ...] | None = None, *, injected: bool = True, series: list[RealSeries] | None = None
) -> dict[str, Any]:
    """Clean false-alert rates and injected-fault scores on the real corpus (see module doc), or on
    ``series`` instead (an operator's own, :mod:`heliosgrid.maintenance.csv_series`)."""
    from heliosgrid.contract import FAULT_TYPES

    corpus = series if series is not None else load_corpus(names)
    not_evaluated: dict[str, list[str]] = {}
    series_out: list[dict[str, Any]] = []
    for s in corpus:
        alerts, reasons, true_on_own = _clean(s)
        for det, why in reasons.items():
            not_evaluated.setdefault(det, []).append(f"{s.name}: {why}")
        informational = [a for a in alerts if a.fault_type in INFORMATIONAL]
        series_out.append(
            {
                "series": s.name,
                "cadence_s": s.cadence_s,
                "site_days": s.days,
                "notes": s.notes,
                "warnings": list(s.warnings),
                "orientation": {"tilt_deg": s.device.surface_tilt_deg, "azimuth_deg": s.device.surface_azimuth_deg},
                "judged_types": [t for t in FAULT_TYPES if t not in _series_exclusions(s)],
                "false_alerts": {t: sum(a.fault_type == t for a in alerts) for t in FAULT_TYPES},
                "file_gaps": len(file_gaps(s)),
                "comm_gap_alerts_on_file_gaps": true_on_own["comm_gap"],
                "file_sensor_freezes": len(file_freezes(s)),
                "stuck_sensor_alerts_on_file_freezes": true_on_own["stuck_sensor"],
                "informational": {
                    t: round(sum(a.energy_lost_kwh for a in informational if a.fault_type == t), 2) for t in INFORMATIONAL
                },
            }
        )
    by_cadence: dict[str, list[dict[str, Any]]] = {}
    for row in series_out:
        cadence = f"{row['cadence_s'] // 60}min" if row["cadence_s"] >= 60 else f"{row['cadence_s']}s"
        by_cadence.setdefault(cadence, []).append(row)
    result: dict[str, Any] = {
        "site_days": round(sum(s.days for s in corpus), 2),
        "false_alerts_per_30_site_days": rates_from_series(series_out),
        "false_alerts_per_30_site_days_by_cadence": {c: rates_from_series(v) for c, v in by_cadence.items()},
        "alerts_on_the_files_own_faults_per_30_site_days": own_fault_alert_rates(series_out),
        "not_evaluated": {k: sorted(set(v)) for k, v in sorted(not_evaluated.items())},
        "series": series_out,
    }
    if injected:
        planned = {s.name: plans(s) for s in corpus}
        rows = [_score_fault(s, t, start, f) for s in corpus for t, start, f in planned[s.name].faults]
        result["per_fault_type"] = _aggregate(rows)
        result["injected"] = rows
        result["not_injected"] = [f"{name}: {why}" for name, p in planned.items() for why in p.skipped]
        if names is None and series is None:
            from heliosgrid.maintenance.soiling_eval import evaluate_soiling_long

            # The 7-day runner window cannot see a 3-week ramp: the long-window detector apart.
            result["soiling_long_window"] = evaluate_soiling_long()
    return result
