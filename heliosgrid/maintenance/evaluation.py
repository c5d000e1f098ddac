"""Score the detectors against ground truth: the simulator's injected faults and pvanalytics' labelled sets.

Simulated evaluation (``heliosgrid maintenance evaluate``): the fleet simulator runs with a
reproducible random fault schedule; its 1-minute readings are rolled up to 15-minute buckets
exactly like ``readings_15m`` (:func:`~heliosgrid.maintenance.frames.rollup_15m`) and the same
:func:`~heliosgrid.maintenance.engine.analyse_site` used in production runs over them.

Matching: a finding matches a ground-truth fault of the same type on the same device when their
intervals overlap (each widened by :data:`MATCH_TOLERANCE`). Per fault type:

* precision = matched findings / findings, recall = matched faults / faults;
* detection delay = first matching finding's ``detected_at`` − fault start (≥ 0), median; also
  from the first moment the fault was observable (site clear-sky AC above 10 % of nameplate),
  since a fault starting at night shows at sunrise — the ≤ 1 h target is checked on the latter;
* energy-lost error = (Σ estimated − Σ true) / Σ true over matched loss faults (trip, string
  outage, soiling, overheating), plus the median of the per-fault absolute relative errors.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors import DEFAULT, FAULT_TYPES, Finding
from heliosgrid.maintenance.detectors.stepdrop import MIN_STEP
from heliosgrid.maintenance.engine import analyse_site
from heliosgrid.maintenance.expected import DAYLIGHT_POA_W_M2
from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
from heliosgrid.physics import SiteSpec, clearsky_ac_power_kw, demo_fleet

MATCH_TOLERANCE = pd.Timedelta(hours=1)
LOSS_TYPES = ("inverter_trip", "string_outage", "soiling", "overheating")
TARGETS = {"precision": 0.9, "recall": 0.9, "delay_h_trip_string": 1.0, "energy_rel_error": 0.10}


def analyse_readings(fleet: Sequence[SiteSpec], readings: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> list[Finding]:
    """Roll raw readings up to 15 minutes and run every detector on every site."""
    return analyse_rollup(fleet, rollup_15m(readings), start, end)


def analyse_rollup(fleet: Sequence[SiteSpec], rollup: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> list[Finding]:
    """Run every detector on every site of ``fleet`` over 15-minute ``rollup`` rows in ``[start, end)``."""
    grid = bucket_grid(start, end)
    findings: list[Finding] = []
    for site in fleet:
        frames = device_frames(rollup, site, grid)
        findings += analyse_site(site, frames, info=False)
    return findings


def observable_from(site: SiteSpec, started_at: pd.Timestamp, poa_w_m2: float = DAYLIGHT_POA_W_M2) -> pd.Timestamp:
    """First moment at or after ``started_at`` when the site's clear-sky POA exceeds ``poa_w_m2``.

    A loss fault that begins at night cannot be seen before the sun is up; detection delays are
    therefore also reported from this moment.
    """
    times = pd.date_range(started_at.floor("15min"), periods=4 * 48, freq="15min")
    cs = clearsky_ac_power_kw(site, times)
    inv = site.inverters[0] if site.inverters else None
    if inv is None:
        return started_at
    lit = cs > DEFAULT.trip_expected_fraction * site.ac_capacity_kw
    hits = times[lit.to_numpy() & (times >= started_at.floor("15min"))]
    return max(started_at, pd.Timestamp(hits[0])) if len(hits) else started_at


DETECTION_LIMIT = {"soiling": 0.03, "irradiance_drift": 0.03, "string_outage": MIN_STEP}
"""Faults whose peak effect stays below the detectors' design limit: gradual faults below 3 % (rate ×
duration; 2 % soiling, 3 % drift, after smoothing) and string outages losing less than the CUSUM
test's smallest step (:data:`heliosgrid.maintenance.detectors.stepdrop.MIN_STEP`, 15 % of output: one
string of twelve is 8 %). Recall is also reported without them (``recall_above_detection_limit``)."""


def peak_effect(row: pd.Series) -> float | None:
    """Peak fractional effect of a gradual fault (soiling loss, POA drift) at its end, or a string
    outage's loss fraction; None otherwise."""
    params = row.get("params")
    params = params if isinstance(params, dict) else {}
    days = (pd.Timestamp(row["ended_at"]) - pd.Timestamp(row["started_at"])).total_seconds() / 86400.0
    if row["fault_type"] == "soiling":
        return min(float(params.get("rate_per_day", 0.0)) * days, float(params.get("max_loss", 1.0)))
    if row["fault_type"] == "irradiance_drift":
        return abs(float(params.get("drift_per_day", 0.0))) * days
    if row["fault_type"] == "string_outage" and "loss_fraction" in params:
        return float(params["loss_fraction"])
    return None


def score(findings: Sequence[Finding], truth: pd.DataFrame, fleet: Sequence[SiteSpec] | None = None) -> dict[str, Any]:
    """Per-fault-type precision, recall, median delay and energy-lost error (see module doc)."""
    sites = {s.site_id: s for s in (fleet or demo_fleet())}
    per_type: dict[str, Any] = {}
    for fault_type in FAULT_TYPES:
        t = truth[truth["fault_type"] == fault_type].reset_index(drop=True)
        fs = [f for f in findings if f.fault_type == fault_type]
        per_type[fault_type] = _entry(fault_type, t, fs, _match(fault_type, t, fs, sites))
    return per_type


@dataclass
class _Matches:
    """What matching one fault type's findings to its true faults gave (see :func:`score`)."""

    matched_f: list[bool]
    delays_h: list[float] = field(default_factory=list)
    delays_daylight_h: list[float] = field(default_factory=list)
    rel_errors: list[float] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    est_sum: float = 0.0
    true_sum: float = 0.0
    hits: int = 0
    detectable: int = 0
    detectable_hits: int = 0


def _match(fault_type: str, t: pd.DataFrame, fs: list[Finding], sites: dict[str, SiteSpec]) -> _Matches:
    """Match each true fault of ``t`` to the findings ``fs`` on its device overlapping it (±
    :data:`MATCH_TOLERANCE`): delays (h, and h of daylight) from the first detection, energy errors."""
    m = _Matches([False] * len(fs))
    for _, row in t.iterrows():
        lo = pd.Timestamp(row["started_at"]) - MATCH_TOLERANCE
        hi = pd.Timestamp(row["ended_at"]) + MATCH_TOLERANCE
        idx = [i for i, f in enumerate(fs) if f.device_id == row["device_id"] and f.started_at < hi and f.ended_at > lo]
        peak = peak_effect(row)
        is_detectable = peak is None or peak >= DETECTION_LIMIT.get(fault_type, 0.0)
        m.detectable += is_detectable
        m.detectable_hits += bool(idx) and is_detectable
        if not idx:
            m.missed.append(
                {"device_id": row["device_id"], "started_at": str(row["started_at"]), "ended_at": str(row["ended_at"])}
            )
            continue
        m.hits += 1
        for i in idx:
            m.matched_f[i] = True
        first = min(fs[i].detected_at for i in idx)
        m.delays_h.append(max(0.0, (first - pd.Timestamp(row["started_at"])).total_seconds() / 3600.0))
        seen_from = observable_from(sites[row["site_id"]], pd.Timestamp(row["started_at"]))
        m.delays_daylight_h.append(max(0.0, (first - seen_from).total_seconds() / 3600.0))
        if fault_type in LOSS_TYPES and row["energy_lost_kwh"] > 0:
            est = sum(fs[i].energy_lost_kwh for i in idx)
            m.est_sum += est
            m.true_sum += float(row["energy_lost_kwh"])
            m.rel_errors.append(abs(est - row["energy_lost_kwh"]) / row["energy_lost_kwh"])
    return m


def _entry(fault_type: str, t: pd.DataFrame, fs: list[Finding], m: _Matches) -> dict[str, Any]:
    """One fault type's scores from its matches."""
    false_pos = [
        {"device_id": f.device_id, "started_at": str(f.started_at), "ended_at": str(f.ended_at)}
        for f, hit in zip(fs, m.matched_f, strict=True)
        if not hit
    ]
    entry: dict[str, Any] = {
        "faults": len(t),
        "findings": len(fs),
        "precision": round(sum(m.matched_f) / len(fs), 4) if fs else (1.0 if len(t) == 0 else 0.0),
        "recall": round(m.hits / len(t), 4) if len(t) else None,
        "recall_above_detection_limit": round(m.detectable_hits / m.detectable, 4) if m.detectable else None,
        "median_delay_h": round(float(np.median(m.delays_h)), 3) if m.delays_h else None,
        "median_delay_from_daylight_h": round(float(np.median(m.delays_daylight_h)), 3) if m.delays_daylight_h else None,
        "missed": m.missed,
        "false_positives": false_pos,
    }
    if fault_type in LOSS_TYPES:
        entry["energy_lost_true_kwh"] = round(m.true_sum, 1)
        entry["energy_lost_estimated_kwh"] = round(m.est_sum, 1)
        entry["energy_rel_error"] = round((m.est_sum - m.true_sum) / m.true_sum, 4) if m.true_sum > 0 else None
        entry["energy_median_abs_rel_error"] = round(float(np.median(m.rel_errors)), 4) if m.rel_errors else None
    return entry


def targets_met(per_type: dict[str, Any]) -> dict[str, bool]:
    """Which of the issue's targets hold, per fault type."""
    out: dict[str, bool] = {}
    for fault_type, e in per_type.items():
        ok = e["faults"] > 0 and e["precision"] >= TARGETS["precision"] and (e["recall"] or 0) >= TARGETS["recall"]
        if fault_type in ("inverter_trip", "string_outage"):
            delay = e["median_delay_from_daylight_h"]
            ok &= delay is not None and delay <= TARGETS["delay_h_trip_string"]
        if fault_type in LOSS_TYPES:
            ok &= e.get("energy_rel_error") is not None and abs(e["energy_rel_error"]) <= TARGETS["energy_rel_error"]
        out[fault_type] = bool(ok)
    return out


@dataclass
class SimulationRun:
    """One simulated evaluation run: the JSON result, the findings, the ground truth, timings (s)."""

    result: dict[str, Any]
    findings: list[Finding]
    truth: pd.DataFrame
    timing_s: dict[str, float]


def simulate_and_score(
    days: int = 30,
    seed: int = 42,
    *,
    start: str = "2026-04-01",
    fault_rate_per_device_month: float = 3.0,
    fleet: Sequence[SiteSpec] | None = None,
) -> SimulationRun:
    """Simulate ``days`` days of the (demo) fleet with random faults, detect, score.

    Timings: ``simulate``, ``rollup`` (raw → 15-min buckets: the benchmark's baseline) and
    ``detect`` (every detector over the rollup), in seconds.
    """
    from heliosgrid.simulation import simulate_fleet

    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    fleet = list(fleet or demo_fleet())
    t0 = pd.Timestamp(start, tz="UTC")
    t1 = t0 + pd.Timedelta(days=days)
    clock = time.perf_counter()
    sim = simulate_fleet(fleet, t0, t1, seed=seed, faults="random", fault_rate_per_device_month=fault_rate_per_device_month)
    timing = {"simulate": time.perf_counter() - clock}
    clock = time.perf_counter()
    rollup = rollup_15m(sim.readings)
    timing["rollup"] = time.perf_counter() - clock
    clock = time.perf_counter()
    findings = analyse_rollup(fleet, rollup, t0, t1)
    timing["detect"] = time.perf_counter() - clock
    per_type = score(findings, sim.faults, fleet)
    result = {
        "setup": {
            "days": days,
            "seed": seed,
            "start": t0.isoformat(),
            "sites": [s.site_id for s in fleet],
            "devices": sum(len(s.devices) for s in fleet),
            "fault_rate_per_device_month": fault_rate_per_device_month,
            "faults_injected": len(sim.faults),
            "readings": len(sim.readings),
            "match_tolerance_h": MATCH_TOLERANCE.total_seconds() / 3600.0,
        },
        "per_fault_type": per_type,
        "targets": TARGETS,
        "targets_met": targets_met(per_type),
        "timing_s": {k: round(v, 2) for k, v in timing.items()},
    }
    return SimulationRun(result, findings, sim.faults, timing)


# --------------------------------------------------------------------------------------------
# pvanalytics labelled real data


def _pvanalytics_csv(name: str, **kw: Any) -> pd.DataFrame:
    path = resources.files("pvanalytics") / "data" / name
    with path.open("rb") as fh:
        return pd.read_csv(fh, **kw)


def _binary_scores(predicted: pd.Series, label: pd.Series) -> dict[str, Any]:
    p = predicted.astype(bool).to_numpy()
    y = label.astype(bool).to_numpy()
    tp = int((p & y).sum())
    fp = int((p & ~y).sum())
    fn = int((~p & y).sum())
    return {
        "samples": len(y),
        "labelled_positive": int(y.sum()),
        "flagged": int(p.sum()),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
    }


def evaluate_pvanalytics() -> dict[str, Any]:
    """Score the data-quality rules on the labelled real series shipped in the pvanalytics wheel.

    * stale data (``ac_power_inv_2173_stale_data.csv``): the stuck-sensor rule of
      :func:`~heliosgrid.maintenance.detectors.stale` (repeated bucket values, daytime only);
    * outliers (``ac_power_inv_7539_outliers.csv``): :func:`heliosgrid.maintenance.outliers.flag_outliers`,
      with the raw pvanalytics functions (Hampel, z-score, Tukey) as baselines;
    * data shifts (``pvlib_data_shift.csv``, daily values): pvanalytics' ``detect_data_shifts``,
      scored per day as "on or after a detected shift" against the label.
    """
    from pvanalytics.quality import data_shifts, outliers
    from pvanalytics.quality.gaps import stale_values_diff

    out: dict[str, Any] = {}
    stale = _pvanalytics_csv("ac_power_inv_2173_stale_data.csv", parse_dates=["timestamp"], index_col="timestamp")
    series = stale["value_normalized"]
    day = series > 0.0  # repeated zeros at night are not stale data
    flagged = stale_values_diff(series, window=3) & day
    out["stale_data"] = {
        "method": "pvanalytics stale_values_diff(window=3) on non-zero values",
        **_binary_scores(flagged, stale["stale_data_mask"]),
    }

    outl = _pvanalytics_csv("ac_power_inv_7539_outliers.csv", parse_dates=["timestamp"], index_col="timestamp")
    from heliosgrid.maintenance.outliers import flag_outliers

    flagged_o = flag_outliers(outl["value_normalized"])
    out["outliers"] = {
        "method": "heliosgrid.maintenance.outliers.flag_outliers (range check + isolated spike)",
        **_binary_scores(flagged_o, outl["outlier"]),
        "baselines": {
            "pvanalytics hampel(window=5)": _binary_scores(outliers.hampel(outl["value_normalized"], window=5), outl["outlier"]),
            "pvanalytics zscore": _binary_scores(outliers.zscore(outl["value_normalized"]), outl["outlier"]),
            "pvanalytics tukey": _binary_scores(outliers.tukey(outl["value_normalized"]), outl["outlier"]),
        },
    }

    shift = _pvanalytics_csv("pvlib_data_shift.csv")
    shift.index = pd.to_datetime(shift["timestamp"], format="%m/%d/%Y")
    changes = data_shifts.detect_data_shifts(shift["value"])
    label_change = shift["label"].astype(int).eq(1)  # the label marks the day of each shift
    # A detected change point counts as correct within ±7 days of a labelled one.
    det_days = list(shift.index[changes.to_numpy(dtype=bool)])
    lab_days = list(shift.index[label_change.to_numpy(dtype=bool)])
    tol = pd.Timedelta(days=7)
    tp_det = sum(any(abs(d - lday) <= tol for lday in lab_days) for d in det_days)
    tp_lab = sum(any(abs(d - lday) <= tol for d in det_days) for lday in lab_days)
    out["data_shift"] = {
        "method": "pvanalytics detect_data_shifts, change points matched within 7 days",
        "labelled_change_points": len(lab_days),
        "detected_change_points": len(det_days),
        "precision": round(tp_det / len(det_days), 4) if det_days else None,
        "recall": round(tp_lab / len(lab_days), 4) if lab_days else None,
    }
    return out


def evaluate(
    days: int = 30, seed: int = 42, *, fault_rate_per_device_month: float = 3.0, real_data: bool = True
) -> dict[str, Any]:
    """The full evaluation: simulated fleet with ground truth, plus pvanalytics labelled sets."""
    result = simulate_and_score(days, seed, fault_rate_per_device_month=fault_rate_per_device_month).result
    if real_data:
        result["pvanalytics_labelled"] = evaluate_pvanalytics()
    return result
