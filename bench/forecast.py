"""Forecast benchmark: every built-in real dataset, all models, rolling-origin backtest.

Datasets (read from the installed ``pvanalytics`` wheel, nothing downloaded):

* ``serf``    — NREL SERF East, 104 days of 15-min AC power, Golden CO (2016-07 .. 2016-10)
* ``pvdaq50`` — NREL PVDAQ system 50 inverter 2, Golden CO, May–Aug 2013

For each: orientation inferred from the training part, models fitted on everything before the
last ``TEST_DAYS`` days, forecasts issued every ``ORIGIN_STEP_H`` hours over those days for 48 h.
No weather forecasts are used (none ship with the wheels for these periods).
Reported per model and horizon bucket: MAE, RMSE, nRMSE, skill vs smart persistence, pinball,
P10–P90 coverage; the champion (lowest day-ahead nRMSE) and the issue's targets checked against
it (and against ``gbm``, the model designed here). Speed: wall time of train + backtest + one
48 h forecast for one site with all models (issue times every 6 h, as ``retrain_site`` does), and
the same with persistence only as baseline; the machine's load average is recorded with it.
Day-ahead analysis (``day_ahead_bounds``): what a history-only forecast can reach against Prophet
(oracle with the observed daily-mean clear-sky index, hindsight-fitted constant and regime-from-
past-days predictors), and Prophet's day-ahead nRMSE with other training windows (fairness check).
"""

from __future__ import annotations

import math
import time
from typing import Any

from heliosgrid.forecast.backtest import DEFAULT_MODELS, day_ahead_bounds, run_backtest
from heliosgrid.forecast.datasets import DATASETS, load_dataset
from heliosgrid.forecast.metrics import DAY_AHEAD_BUCKET, HORIZON_BUCKETS
from heliosgrid.forecast.models import MODEL_CLASSES, ProphetCSI
from heliosgrid.forecast.solar import STEP
from heliosgrid.forecast.training import train_site_models

TEST_DAYS = 21.0
ORIGIN_STEP_H = 3.0  # scoring: 8 issue times a day
PIPELINE_ORIGIN_STEP_H = 6.0  # timing: what retrain_site runs (4 issue times a day)
PROPHET_FIT_DAYS_CHECKED = (14, 60)  # besides the default (30): is the Prophet baseline crippled?


def _targets(metrics: dict[str, dict[str, dict[str, float]]], model: str) -> dict[str, Any]:
    m = metrics[model]
    prophet_da = metrics.get("prophet", {}).get(DAY_AHEAD_BUCKET, {}).get("nrmse", math.nan)
    da = m[DAY_AHEAD_BUCKET]["nrmse"]
    skills = {b: m[b]["skill"] for b in HORIZON_BUCKETS}
    coverage = m["all"]["coverage_p10_p90"]
    reduction = 1.0 - da / prophet_da if prophet_da and not math.isnan(prophet_da) else math.nan
    return {
        "model": model,
        "skill_by_bucket": {b: round(v, 4) for b, v in skills.items()},
        "skill_positive_every_bucket": all(v > 0 for v in skills.values()),
        "day_ahead_nrmse": round(da, 4),
        "prophet_day_ahead_nrmse": round(prophet_da, 4),
        "day_ahead_nrmse_reduction_vs_prophet": round(reduction, 4),
        "day_ahead_20pct_below_prophet": bool(reduction >= 0.20),
        "coverage_p10_p90": round(coverage, 4),
        "coverage_within_80_pm_5": bool(0.75 <= coverage <= 0.85),
    }


def _prophet_fit_days_check(ds: Any, result: Any) -> dict[str, Any]:
    """Day-ahead nRMSE of Prophet with other training windows (same test window and scoring), to
    show that the Prophet baseline is not handicapped by its configuration."""
    out = {f"fit_days_{ProphetCSI().fit_days}": round(result.metrics["prophet"][DAY_AHEAD_BUCKET]["nrmse"], 4)}
    default = MODEL_CLASSES["prophet"]
    try:
        for days in PROPHET_FIT_DAYS_CHECKED:
            MODEL_CLASSES["prophet"] = type(f"ProphetCSI{days}", (ProphetCSI,),
                                            {"__init__": lambda self, d=days: ProphetCSI.__init__(self, fit_days=d)})
            r = run_backtest(ds.series, ds.site, ds.capacity_kw, models=("persistence", "prophet"), test_days=TEST_DAYS,
                             origin_step_h=ORIGIN_STEP_H, fit_orientation=True)
            out[f"fit_days_{days}"] = round(r.metrics["prophet"][DAY_AHEAD_BUCKET]["nrmse"], 4)
    finally:
        MODEL_CLASSES["prophet"] = default
    return out


def _one_site_pipeline_s(name: str, models: tuple[str, ...]) -> tuple[float, float, str | None]:
    """Wall and CPU time (s) of what ``retrain_site`` + ``run_forecasts`` do for one site, without the
    database: hygiene, backtest of ``models`` and of the per-horizon champion (issue times every 6 h),
    refit of every model on the whole window, and one 48 h forecast of the champion."""
    ds = load_dataset(name)
    t0 = time.perf_counter()
    c0 = time.process_time()
    trained = train_site_models(ds.series, ds.site, ds.capacity_kw, models=models, backtest_days=TEST_DAYS,
                                origin_step_h=PIPELINE_ORIGIN_STEP_H)
    best = trained.backtest.champion or "persistence"
    trained.forecasters[best].predict_quantiles(ds.series, ds.series.index[-1] + STEP)
    return time.perf_counter() - t0, time.process_time() - c0, best


def run() -> dict[str, Any]:
    import os

    out: dict[str, Any] = {"test_days": TEST_DAYS, "origin_step_h": ORIGIN_STEP_H,
                           "pipeline_timing_origin_step_h": PIPELINE_ORIGIN_STEP_H, "day_ahead_bucket": DAY_AHEAD_BUCKET,
                           "load_average_at_start": os.getloadavg()[0], "cpu_count": os.cpu_count(), "datasets": {}}
    for name in DATASETS:
        ds = load_dataset(name)
        full_s, full_cpu_s, pipeline_champion = _one_site_pipeline_s(name, DEFAULT_MODELS)
        base_s, base_cpu_s, _ = _one_site_pipeline_s(name, ("persistence",))
        result = run_backtest(ds.series, ds.site, ds.capacity_kw, models=DEFAULT_MODELS, test_days=TEST_DAYS,
                              origin_step_h=ORIGIN_STEP_H, fit_orientation=True)
        summary = result.to_json()
        entry = {
            "description": ds.description,
            "intervals": len(ds.series),
            "capacity_kw": ds.capacity_kw,
            "backtest": summary,
            "champion": result.champion,
            "targets_champion": _targets(result.metrics, result.champion) if result.champion else None,
            "targets_gbm": _targets(result.metrics, "gbm"),
            "one_site_train_backtest_forecast_s": round(full_s, 2),
            "baseline_persistence_only_s": round(base_s, 2),
            "ratio_to_baseline": round(full_s / base_s, 2) if base_s > 0 else None,
            "one_site_cpu_s": round(full_cpu_s, 2),
            "baseline_persistence_only_cpu_s": round(base_cpu_s, 2),
            "cpu_ratio_to_baseline": round(full_cpu_s / base_cpu_s, 2) if base_cpu_s > 0 else None,
            "within_60_s": full_s <= 60.0,
            "pipeline_champion": pipeline_champion,
            "day_ahead_bounds": day_ahead_bounds(result),
            "prophet_fit_days_check": _prophet_fit_days_check(ds, result),
        }
        out["datasets"][name] = entry
        print(f"\n== {name}: champion {result.champion}; {full_s:.1f}s (persistence only {base_s:.1f}s)")
        print(result.table())
    out["serf_with_emulated_nwp"] = run_serf_with_emulated_nwp()
    return out


def emulated_nwp_csv(path: Any, seed: int = 42) -> Any:
    """Write an *emulated* NWP file for the SERF period (``issued_at,target_ts,ghi_w_m2``).

    Source: the NSRDB PSM3 satellite GHI shipped with pvanalytics for the same site and period
    (``serf_east_psm3_data.csv``) — i.e. observations, not forecasts. To emulate a forecast it is
    averaged to hourly values, issued twice a day (00 and 12 UTC) for 48 h, and multiplied by
    log-normal errors drawn per 3-hour block with σ = 0.25 + 0.15 × lead/24 h. Results with it show
    what the NWP input path can add; they are NOT the headline (no-NWP) figures.
    """
    import numpy as np
    import pandas as pd

    from heliosgrid.forecast.datasets import _data_file

    raw = pd.read_csv(_data_file("serf_east_psm3_data.csv"))
    ghi = pd.Series(raw["ghi"].to_numpy(dtype=float), index=pd.DatetimeIndex(pd.to_datetime(raw["measured_on"], utc=True)))
    hourly = ghi.resample("1h").mean()
    rng = np.random.default_rng(seed)
    rows = []
    for issued in pd.date_range(hourly.index[0].ceil("12h"), hourly.index[-1], freq="12h"):
        leads = np.arange(48)
        targets = issued + pd.to_timedelta(leads, unit="h")
        obs = hourly.reindex(targets).to_numpy()
        sigma = 0.25 + 0.15 * leads / 24.0
        block = rng.normal(0.0, 1.0, size=16)[leads // 3]
        fc = obs * np.exp(sigma * block - sigma**2 / 2)
        for t, v in zip(targets, fc, strict=True):
            if not np.isnan(v):
                rows.append((issued.isoformat(), t.isoformat(), round(float(v), 1)))
    pd.DataFrame(rows, columns=["issued_at", "target_ts", "ghi_w_m2"]).to_csv(path, index=False)
    return path


def run_serf_with_emulated_nwp() -> dict[str, Any]:
    """gbm with the emulated NWP file vs the no-NWP models on SERF (same windows)."""
    import tempfile
    from pathlib import Path

    from heliosgrid.forecast.weather import FileWeatherProvider

    ds = load_dataset("serf")
    with tempfile.TemporaryDirectory() as tmp:
        provider = FileWeatherProvider(emulated_nwp_csv(Path(tmp) / "nwp.csv"))
        result = run_backtest(ds.series, ds.site, ds.capacity_kw, models=("persistence", "prophet", "gbm"),
                              test_days=TEST_DAYS, origin_step_h=ORIGIN_STEP_H, fit_orientation=True, weather=provider)
    print("\n== serf with EMULATED NWP (satellite GHI + noise), see emulated_nwp_csv()")
    print(result.table())
    return {"note": emulated_nwp_csv.__doc__, "backtest": result.to_json(), "targets_gbm": _targets(result.metrics, "gbm")}


def csv_site_timing(path: str, capacity_kw: float, latitude_deg: float, longitude_deg: float, *,
                    timestamp_col: str = "timestamp", power_col: str = "ac_power_kw") -> dict[str, Any]:
    """Wall and CPU time (s) of train + backtest + forecast for one site given as a judged series is: a CSV
    with a timestamp and a power (kW) column, a location and a nameplate. Runs what ``retrain_site`` +
    ``run_forecasts`` do without the database: read and clean the CSV, backtest the five candidates and
    the per-horizon champion (21 days, issue times every 6 h), refit, one 48 h forecast."""
    from heliosgrid.forecast.datasets import load_power_csv
    from heliosgrid.forecast.hygiene import clean_power_series
    from heliosgrid.forecast.solar import site_from_capacity

    t0, c0 = time.perf_counter(), time.process_time()
    raw = load_power_csv(path, timestamp_col=timestamp_col, power_col=power_col, tz="UTC", power_unit="kW", raw=True)
    site = site_from_capacity("timing", latitude_deg, longitude_deg, capacity_kw, timezone="UTC")
    series, _ = clean_power_series(raw, site, capacity_kw)
    trained = train_site_models(series, site, capacity_kw, models=DEFAULT_MODELS, backtest_days=TEST_DAYS,
                                origin_step_h=PIPELINE_ORIGIN_STEP_H)
    best = trained.backtest.champion or "persistence"
    trained.forecasters[best].predict_quantiles(series, series.index[-1] + STEP)
    import os

    return {"csv": path, "intervals": len(series), "days": round(len(series) / 96, 1), "champion": best,
            "wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - c0, 2),
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "stages_s": {k: round(v, 2) for k, v in trained.backtest.timings_s.items()}}


if __name__ == "__main__":  # python -m bench.forecast FILE CAPACITY_KW LAT LON
    import json
    import sys

    print(json.dumps(csv_site_timing(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])), indent=2))
