"""Bands: online conformal per bucket, smooth P10 in full sun, the per-horizon champion's fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heliosgrid.forecast.backtest import BacktestResult, run_backtest
from heliosgrid.forecast.conformal import OnlineBand, band_from_offsets
from heliosgrid.forecast.ensemble import ENSEMBLE_NAME, MIN_FOLDS_WON, REFERENCES
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    series = synthetic_power(30, pattern="random", seed=11)
    return run_backtest(series, DEFAULT_SITE, 100.0, models=["persistence", "climatology", "gbm"], test_days=8,
                        origin_step_h=6.0)


def test_online_band_recovers_coverage_after_a_regime_change() -> None:
    rng = np.random.default_rng(1)
    band = OnlineBand(rng.normal(0, 0.1, 2000), rng.normal(0, 0.1, 2000), window=400)  # calm calibration
    misses = []
    for _ in range(150):  # the weather turns four times as variable
        r = rng.normal(0, 0.4, 30)
        lo, hi = band.offsets()
        misses.append(np.mean((r < lo) | (r > hi)))
        band.update(r, r)
    assert np.mean(misses[:5]) > 0.5  # the calm band misses at first ...
    assert abs(np.mean(misses[-50:]) - 0.2) < 0.05  # ... and is back near 80 % coverage


def test_band_is_clipped_and_ordered() -> None:
    p50 = np.array([0.0, 50.0, 99.0])
    p10, p90 = band_from_offsets(p50, np.full(3, 20.0), np.full(3, 10.0), -3.0, 2.0, 100.0)
    assert (p10 >= 0).all() and (p90 <= 100).all() and (p10 <= p50).all() and (p50 <= p90).all()


def p10_dips_in_full_sun(frame: pd.DataFrame, model: str, capacity_kw: float) -> float:
    """Largest drop of P10 below *both* neighbouring 15-min targets of the same run, where the sun is
    high and P50 near clear sky (kW). A step between horizon buckets is not a dip."""
    worst = 0.0
    rows = frame[frame["model"] == model].sort_values(["issued_at", "target_ts"])
    for _, run in rows.groupby("issued_at"):
        p10 = run["p10_kw"].to_numpy()
        sunny = ((run["clearsky_kw"] > 0.6 * capacity_kw) & (run["p50_kw"] > 0.7 * run["clearsky_kw"])).to_numpy()
        for i in range(1, len(p10) - 1):
            if sunny[i - 1] and sunny[i] and sunny[i + 1]:
                worst = max(worst, min(p10[i - 1], p10[i + 1]) - p10[i])
    return worst


def test_p10_has_no_jagged_dips_in_full_sun(result: BacktestResult) -> None:
    f = result.frame
    sunny = f[(f["model"] == ENSEMBLE_NAME) & (f["clearsky_kw"] > 60.0) & (f["p50_kw"] > 0.7 * f["clearsky_kw"])]
    assert len(sunny) > 100 and (sunny["p10_kw"] > 0).all()
    assert p10_dips_in_full_sun(f, ENSEMBLE_NAME, 100.0) < 0.02 * 100.0


def test_per_horizon_champion_reported_with_its_choices(result: BacktestResult) -> None:
    js = result.to_json()
    assert js["champion"] == ENSEMBLE_NAME
    assert set(js["champion_by_bucket"]) == {"0-1h", "1-6h", "6-24h", "24-48h"}
    for b, m in js["models"][ENSEMBLE_NAME].items():
        assert {"nrmse", "coverage_p10_p90", "interval_width_rel", "pinball_skill_vs_climatology"} <= set(m), b
    ev = js["selection"]["24-48h"]
    sel = ev["holdout_rmse_kw"]
    choice = js["champion_by_bucket"]["24-48h"]
    gains = ev["fold_gain_vs_reference_blend"]
    def won(n: str) -> bool:
        return sum(g > 0 for g in gains[n]) >= MIN_FOLDS_WON and sel[n] < sel["reference_blend"]

    if ev["choice"] == "reference_blend":  # no challenger beat the reference blend pooled and in most folds
        assert not any(won(n) for n in gains), ev
        assert set(result.ensemble.weights["24-48h"]) <= set(REFERENCES), choice
    else:  # among the challengers that did, the lowest pooled hold-out RMSE
        assert won(ev["choice"]), ev
        assert sel[ev["choice"]] == min(sel[n] for n in gains if won(n)), ev


def test_selection_uses_only_data_before_the_test_window() -> None:
    series = synthetic_power(30, pattern="random", seed=11)
    a = run_backtest(series, DEFAULT_SITE, 100.0, models=["persistence", "climatology"], test_days=8, online_bands=False)
    changed = series.copy()
    changed[changed.index >= a.test_start] *= 0.3  # a different test window
    b = run_backtest(changed, DEFAULT_SITE, 100.0, models=["persistence", "climatology"], test_days=8,
                     online_bands=False)
    sel_a, sel_b = (dict(r.to_json()["selection"]) for r in (a, b))
    sel_a.pop("choices_over_issue_times"), sel_b.pop("choices_over_issue_times")
    assert a.champion_by_bucket == b.champion_by_bucket and sel_a == sel_b
    assert pd.Timestamp(a.test_start) == pd.Timestamp(b.test_start)


def test_reselection_at_each_issue_time_uses_only_matured_forecasts() -> None:
    """The champion re-selected at every issue time: its forecasts issued up to T are identical whatever the
    data after T is, and they change afterwards (the new data is used once it has matured)."""
    series = synthetic_power(30, pattern="random", seed=11)
    kw = {"models": ["persistence", "climatology"], "test_days": 8, "online_bands": False}
    a = run_backtest(series, DEFAULT_SITE, 100.0, **kw)
    cut = a.test_start + pd.Timedelta(days=4)
    changed = series.copy()
    changed[changed.index >= cut] = changed[changed.index >= cut].to_numpy()[::-1]
    b = run_backtest(changed, DEFAULT_SITE, 100.0, **kw)
    rows = [r.frame[r.frame["model"] == ENSEMBLE_NAME].sort_values(["issued_at", "target_ts"]) for r in (a, b)]
    before = [r[r["issued_at"] <= cut]["p50_kw"].to_numpy() for r in rows]
    assert len(before[0]) > 0 and np.array_equal(before[0], before[1])
    after = [r[r["issued_at"] > cut]["p50_kw"].to_numpy() for r in rows]
    assert not np.array_equal(after[0], after[1])
