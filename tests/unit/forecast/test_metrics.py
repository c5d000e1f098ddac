"""Metrics against hand-computed values on a tiny series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from heliosgrid.forecast.metrics import (
    bucket_of,
    choose_champion,
    coverage_interval,
    pinball_loss,
    point_metrics,
    score_backtest,
    skill_score,
)


def test_point_metrics_hand_computed() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p50 = np.array([2.0, 2.0, 2.0, 2.0])  # errors +1, 0, -1, -2
    p10 = np.array([0.0, 2.5, 0.0, 0.0])
    p90 = np.array([3.0, 3.0, 3.0, 3.0])
    m = point_metrics(y, p10, p50, p90, capacity_kw=10.0)
    assert m["n"] == 4
    assert m["mae_kw"] == pytest.approx(1.0)  # (1 + 0 + 1 + 2) / 4
    assert m["rmse_kw"] == pytest.approx(math.sqrt(1.5))  # (1 + 0 + 1 + 4) / 4
    assert m["bias_kw"] == pytest.approx(-0.5)
    assert m["nrmse"] == pytest.approx(math.sqrt(1.5) / 10.0)
    assert m["coverage_p10_p90"] == pytest.approx(0.5)  # 1 in, 2 below p10 (2<2.5), 3 in, 4 above p90
    # pinball by hand: q=0.1 residuals y-p10 = 1,-0.5,3,4 -> 0.1,0.45,0.3,0.4 = 1.25/4
    # q=0.5 residuals y-p50 = -1,0,1,2 -> 0.5,0,0.5,1 = 2/4; q=0.9 residuals y-p90 = -2,-1,0,1 -> .2,.1,0,.9 = 1.2/4
    assert m["pinball_kw"] == pytest.approx((1.25 / 4 + 2 / 4 + 1.2 / 4) / 3)


def test_pinball_and_skill() -> None:
    assert pinball_loss(np.array([1.0]), np.array([0.0]), 0.9) == pytest.approx(0.9)
    assert pinball_loss(np.array([0.0]), np.array([1.0]), 0.9) == pytest.approx(0.1)
    assert skill_score(0.8, 1.0) == pytest.approx(0.2)
    assert math.isnan(skill_score(1.0, 0.0))


def test_buckets_and_scoring_same_samples() -> None:
    assert list(bucket_of(np.array([0, 59, 60, 359, 360, 1439, 1440, 2879, 2880]))) == [
        "0-1h", "0-1h", "1-6h", "1-6h", "6-24h", "6-24h", "24-48h", "24-48h", ""]
    issued = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for model, p50 in (("persistence", 2.0), ("good", 1.5)):
        for h, y in ((0, 1.0), (1500, 1.0)):
            rows.append({"model": model, "issued_at": issued, "target_ts": issued + pd.Timedelta(minutes=h),
                         "horizon_min": h, "p10_kw": 0.0, "p50_kw": p50, "p90_kw": 3.0, "actual_kw": y, "clearsky_kw": 5.0})
        # a night row and a row without actual are not scored
        rows.append({**rows[-1], "target_ts": issued + pd.Timedelta(hours=3), "horizon_min": 180, "clearsky_kw": 0.0})
        rows.append({**rows[-2], "target_ts": issued + pd.Timedelta(hours=4), "horizon_min": 240, "actual_kw": np.nan})
    metrics = score_backtest(pd.DataFrame(rows), capacity_kw=10.0)
    assert metrics["good"]["24-48h"]["rmse_kw"] == pytest.approx(0.5)
    assert metrics["good"]["24-48h"]["skill"] == pytest.approx(0.5)  # 1 - 0.5/1.0
    assert metrics["persistence"]["all"]["n"] == 2
    assert choose_champion(metrics) == "good"


def test_the_coverage_interval_resamples_whole_days_and_narrows_with_more_of_them() -> None:
    """A band that covers everything on 16 days and nothing on 4 covers 0.8 of a 20-day test, but a bootstrap
    over its days gives a wide interval: the 4 missed days may or may not come again. Every day alike: none."""
    hours = 10
    short = np.repeat(np.arange(20), hours)
    covered = np.repeat(np.arange(20) >= 4, hours)
    lo, hi = coverage_interval(covered, short)
    assert 0.6 < lo < 0.8 < hi <= 0.95
    long_lo, long_hi = coverage_interval(np.tile(covered, 5), np.repeat(np.arange(100), hours))
    assert long_hi - long_lo < 0.6 * (hi - lo)  # 5 × the days: ≈ 1/√5 of the width
    assert coverage_interval(np.tile([True] * 8 + [False] * 2, 20), short) == (0.8, 0.8)
    assert all(math.isnan(x) for x in coverage_interval(covered[:hours], short[:hours]))  # one day: unknown
    assert coverage_interval(covered, short) == (lo, hi)  # fixed seed: the same figures every run


def test_scored_buckets_carry_the_coverage_interval_over_their_target_days() -> None:
    ts = pd.date_range("2024-06-01 12:00", periods=10, freq="1D", tz="UTC")
    frame = pd.DataFrame({"model": "m", "issued_at": ts - pd.Timedelta(hours=2), "target_ts": ts, "horizon_min": 120,
                          "p10_kw": 1.0, "p50_kw": 2.0, "p90_kw": 3.0, "actual_kw": [2.0] * 8 + [5.0] * 2,
                          "clearsky_kw": 4.0})
    cell = score_backtest(frame, 5.0)["m"]["1-6h"]
    assert cell["coverage_p10_p90"] == 0.8 and cell["coverage_ci90_lo"] < 0.8 < cell["coverage_ci90_hi"]
