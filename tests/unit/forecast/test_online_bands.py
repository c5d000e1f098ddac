"""Production bands updated online from matured forecasts (heliosgrid.forecast.online), and the
rolling-origin per-bucket selection (heliosgrid.forecast.ensemble)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.forecast.ensemble import MIN_FOLDS_WON, SHORT_LEAD_BUCKET, _choose, fold_ids, weights_from_wide
from heliosgrid.forecast.online import apply_offsets, online_offsets
from heliosgrid.forecast.solar import STEP, SolarContext
from heliosgrid.forecast.synthetic import DEFAULT_SITE


def _matured(history: pd.Series, rel_error: float, seed: int) -> pd.DataFrame:
    """Forecasts issued every 6 h over days 15..20 for 48 h, P50 = actual × (1 + rel_error × noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for issue in pd.date_range(history.index[0] + pd.Timedelta(days=15), periods=20, freq="6h"):
        targets = pd.date_range(issue, periods=192, freq=STEP)
        y = history.reindex(targets).to_numpy()
        p50 = np.clip(y * (1 + rel_error * rng.standard_normal(len(y))), 0, None)
        rows.append(pd.DataFrame({"issued_at": issue, "target_ts": targets, "horizon_min": np.arange(192) * 15,
                                  "p50_kw": p50, "actual_kw": y}))
    return pd.concat(rows, ignore_index=True)


def test_online_band_follows_the_realised_errors(synthetic_alternating: pd.Series) -> None:
    """Larger realised errors of the stored forecasts give a wider next band, in every bucket; too few
    matured forecasts leave the trained band alone."""
    ctx = SolarContext(DEFAULT_SITE, 100.0)
    small = online_offsets(_matured(synthetic_alternating, 0.05, 1), synthetic_alternating, ctx)
    large = online_offsets(_matured(synthetic_alternating, 0.40, 1), synthetic_alternating, ctx)
    assert set(small) == set(large) == {"0-1h", "1-6h", "6-24h", "24-48h"}
    for b in small:
        assert large[b][0] < small[b][0] <= 0.0 <= small[b][1] < large[b][1]
    assert online_offsets(_matured(synthetic_alternating, 0.4, 1).head(40), synthetic_alternating, ctx) == {}

    issue = synthetic_alternating.index[0] + pd.Timedelta(days=22)
    history = synthetic_alternating[synthetic_alternating.index < issue]
    targets = pd.date_range(issue, periods=192, freq=STEP)
    p50 = ctx.clearsky_kw(targets) * 0.6
    frame = pd.DataFrame({"target_ts": targets, "horizon_min": np.arange(192) * 15, "p10_kw": p50, "p50_kw": p50,
                          "p90_kw": p50})
    narrow, wide = (apply_offsets(frame, o, history, ctx, issue) for o in (small, large))
    day = p50 > 5
    assert ((wide["p90_kw"] - wide["p10_kw"])[day].mean() > 2 * (narrow["p90_kw"] - narrow["p10_kw"])[day].mean())
    assert (narrow["p10_kw"] <= narrow["p50_kw"]).all() and (narrow["p50_kw"] <= narrow["p90_kw"]).all()
    assert (wide["p90_kw"] <= 100.0).all() and (wide["p10_kw"] >= 0).all()


def test_selection_falls_back_to_the_reference_blend_unless_better_in_most_folds() -> None:
    """A model that wins on the pooled hold-out but only in one fold of three (a lucky streak) is not chosen:
    the bucket gets the convex blend of the references (here almost all persistence). One that wins two of
    three folds and the pooled hold-out is."""
    rng = np.random.default_rng(0)
    n = 900
    issued = np.repeat(np.arange(90), 10)
    fold = fold_ids(issued, 3)
    assert list(np.bincount(fold)) == [300, 300, 300]
    y = rng.uniform(0, 10, n)
    ref = y + rng.normal(0, 1.0, n)
    lucky = np.where(fold == 2, y + rng.normal(0, 0.1, n), ref + rng.normal(0, 0.5, n))  # wins only the last fold
    mostly = y + np.where(fold == 0, rng.normal(0, 1.2, n), rng.normal(0, 0.7, n))  # wins two folds of three
    names = ["persistence", "climatology", "gbm"]
    worse = y + rng.normal(0, 3.0, n)
    w, ev = _choose(np.column_stack([ref, worse, lucky]), y, fold, names)
    assert ev["holdout_rmse_kw"]["gbm"] < ev["holdout_rmse_kw"]["reference_blend"]  # pooled, it looks better
    assert ev["choice"] == "reference_blend" and ev["best_reference"] == "persistence"
    assert "gbm" not in w and w["persistence"] > 0.85
    assert sum(g > 0 for g in ev["fold_gain_vs_reference_blend"]["gbm"]) == 1
    w, ev = _choose(np.column_stack([ref, worse, mostly]), y, fold, names)
    assert ev["choice"] in ("gbm", "nnls", "inverse_mse") and w.get("gbm", 0.0) > 0.5
    assert sum(g > 0 for g in ev["fold_gain_vs_reference_blend"][ev["choice"]]) >= MIN_FOLDS_WON


def test_the_first_hour_is_the_equal_average_of_persistence_and_the_learned_members() -> None:
    """0–1 h is not selected (ADR 0390): a hold-out where climatology happened to win the first hour (ramp days)
    does not hand it the bucket; the other buckets are still selected; without a learned member, selected."""
    rng = np.random.default_rng(5)
    rows = []
    for bucket, clim_noise in (("0-1h", 0.3), ("1-6h", 0.3)):
        y = rng.uniform(0, 10, 300)
        rows.append(pd.DataFrame({"issued_at": np.repeat(np.arange(30), 10), "horizon_min": 15, "bucket": bucket, "y_kw": y,
                                  "persistence": y + rng.normal(0, 1.5, 300), "climatology": y + rng.normal(0, clim_noise, 300),
                                  "prophet": y + rng.normal(0, 2.0, 300), "arima": y + rng.normal(0, 1.4, 300),
                                  "gbm": y + rng.normal(0, 1.6, 300)}))
    wide = pd.concat(rows, ignore_index=True)
    names = ["persistence", "climatology", "prophet", "arima", "gbm"]
    weights, evidence = weights_from_wide(wide, names)
    assert weights[SHORT_LEAD_BUCKET] == {"persistence": 0.3333, "arima": 0.3333, "gbm": 0.3333}
    assert evidence[SHORT_LEAD_BUCKET]["choice"] == "short_lead_average"
    assert evidence[SHORT_LEAD_BUCKET]["best_reference"] == "climatology"  # reported, not acted on
    assert weights["1-6h"].get("climatology", 0.0) > 0.5  # selected: climatology is far better there
    refs_only, ev = weights_from_wide(wide, ["persistence", "climatology", "prophet"])
    assert ev[SHORT_LEAD_BUCKET]["choice"] == "reference_blend" and refs_only[SHORT_LEAD_BUCKET].get("climatology", 0) > 0.5


def test_reference_blend_is_not_worse_than_either_reference_when_their_ranking_flips() -> None:
    """Two references whose ranking flips between the hold-out and later: the chosen reference blend (fitted
    on the hold-out only) beats the hold-out's best reference on the later data, where that one is worse."""
    rng = np.random.default_rng(3)
    n = 1200
    y = rng.uniform(0, 10, 2 * n)
    noise_a = np.concatenate([rng.normal(0, 0.8, n), rng.normal(0, 1.6, n)])  # good first, bad later
    noise_b = np.concatenate([rng.normal(0, 1.2, n), rng.normal(0, 1.0, n)])
    x = np.column_stack([y + noise_a, y + noise_b])
    names = ["persistence", "climatology"]
    fold = fold_ids(np.repeat(np.arange(n // 10), 10), 3)
    w, ev = _choose(x[:n], y[:n], fold, names)
    assert ev["choice"] == "reference_blend" and ev["best_reference"] == "persistence"
    later = x[n:] @ np.array([w.get(m, 0.0) for m in names])
    rmse_blend = np.sqrt(np.mean((later - y[n:]) ** 2))
    rmse_best_holdout_ref = np.sqrt(np.mean((x[n:, 0] - y[n:]) ** 2))
    assert rmse_blend < 0.8 * rmse_best_holdout_ref


def test_cached_issue_scales_equal_the_per_issue_recomputation(synthetic_alternating: pd.Series) -> None:
    """IssueScales (one CSI grid for the whole replay) gives the same band scales as band_scales at each issue
    time, including issue times inside a data gap and after the end of the history."""
    from heliosgrid.forecast.online import IssueScales, band_scales

    ctx = SolarContext(DEFAULT_SITE, 100.0)
    history = synthetic_alternating.copy()
    history.iloc[1500:1700] = np.nan  # a gap of two days
    cached = IssueScales(ctx, history)
    h = np.arange(192) * 15
    start = history.index[0]
    for issue in (start + pd.Timedelta(days=16, hours=6), history.index[1600], history.index[-1] + STEP,
                  history.index[-1] + pd.Timedelta(hours=7)):
        for got, want in zip(cached(issue, h), band_scales(ctx, history, issue, h), strict=True):
            np.testing.assert_allclose(got, want)
