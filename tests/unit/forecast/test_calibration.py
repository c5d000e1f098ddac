"""Calibration and blending added for the benchmark targets: finite-sample conformal levels,
regime-scaled bands, the gbm's persistence/climatology base weights, training-only weights, and
the day-ahead bounds analysis."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from heliosgrid.forecast.backtest import day_ahead_bounds, run_backtest
from heliosgrid.forecast.calibration import VARIABILITY_FLOOR, ResidualCalibrator, conformal_levels, regime_variability
from heliosgrid.forecast.features import fit_base_weights
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.models import make_model
from heliosgrid.forecast.solar import STEPS_PER_DAY, ForecastInputError, SolarContext, regular_grid
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power

ISSUE = pd.Timestamp("2024-05-23T06:00Z")


def test_conformal_levels_finite_sample() -> None:
    assert conformal_levels(9) == pytest.approx((1 / 9, 0.5, 1.0))  # ⌊10·0.1⌋/9, ⌈10·0.9⌉/9
    assert conformal_levels(99) == pytest.approx((10 / 99, 0.5, 90 / 99))
    assert conformal_levels(0) == (0.1, 0.5, 0.9)
    lo, _, hi = conformal_levels(1000)
    assert lo <= 0.1 <= 0.9 <= hi
    assert conformal_levels(999, margin=0.025) == pytest.approx((75 / 999, 0.5, 925 / 999))


def test_cross_conformal_folds_pool_residuals_from_earlier_blocks(synthetic_alternating: pd.Series) -> None:
    train = synthetic_alternating[: 21 * 96]
    one = Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=4).fit(train)
    two = Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=4,
                     calibration_folds=2).fit(train)
    assert (one.calibration_folds_used, two.calibration_folds_used) == (1, 2)
    # the earlier block adds its own origins (and its 48 h targets are all observed)
    assert 1.8 * one.calibrator.n_samples < two.calibrator.n_samples < 2.6 * one.calibrator.n_samples
    capped = Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=4,
                        calibration_folds=10).fit(train)
    assert capped.calibration_folds_used == 2  # at most half of the 21 days is held out


def test_calibrator_quantiles_scale_with_the_score_scale() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    h = np.full(n, 30.0)
    k_hat = np.full(n, 0.5)
    scale = rng.choice([0.1, 0.4], size=n)
    k_obs = k_hat + scale * rng.normal(0.0, 1.0, n)
    cal = ResidualCalibrator().fit(h, k_hat, k_obs, scale)
    narrow = cal.offsets(np.array([30.0]), np.array([0.5]), 0.1)[0]
    wide = cal.offsets(np.array([30.0]), np.array([0.5]), 0.4)[0]
    np.testing.assert_allclose(wide[[0, 2]], 4.0 * narrow[[0, 2]])
    assert wide[1] == narrow[1]  # the median (bias) correction is not scaled
    assert narrow[2] - narrow[0] == pytest.approx(0.1 * 2 * 1.2816, rel=0.1)  # normal P10–P90 width
    # each scale group is covered at ≈ 80 %, not just the pool
    for s in (0.1, 0.4):
        sel = scale == s
        off = cal.offsets(h[sel], k_hat[sel], s)
        inside = (k_obs[sel] >= k_hat[sel] + off[:, 0]) & (k_obs[sel] <= k_hat[sel] + off[:, 2])
        assert 0.75 <= inside.mean() <= 0.85


def test_regime_variability_uses_the_last_days_only() -> None:
    old_noisy = np.random.default_rng(1).uniform(0.1, 1.0, 5 * STEPS_PER_DAY)
    settled = np.full(3 * STEPS_PER_DAY, 0.9)
    assert regime_variability(np.concatenate([old_noisy, settled])) == VARIABILITY_FLOOR
    assert regime_variability(np.concatenate([settled, old_noisy])) > 0.2
    assert regime_variability(np.full(10, np.nan)) == 0.25  # nothing known: a wide default


def test_base_weights_recover_a_known_mix() -> None:
    rng = np.random.default_rng(2)
    n = 20_000
    h = rng.integers(0, 48 * 60, n).astype(float)
    persist, clim = rng.uniform(0.2, 1.0, n), rng.uniform(0.2, 1.0, n)
    true_w = np.exp(-h / 240.0)  # persistence share decays with lead
    k_obs = true_w * persist + (1 - true_w) * clim + rng.normal(0.0, 0.02, n)
    w = fit_base_weights(h, persist, clim, k_obs)
    assert len(w) == 48
    np.testing.assert_allclose(w[[0, 4, 12]], np.exp(-(np.array([0, 4, 12]) * 60 + 30) / 240.0), atol=0.03)
    assert (np.diff(w) <= 0).all()


def test_regime_scaled_band_narrows_after_settled_days(synthetic_alternating: pd.Series) -> None:
    """Same raw point forecast (persistence of the last daylight hour), different weather in the
    days before: the band (and the median correction) scale with the regime variability."""
    fc = Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=5)
    fc.fit(synthetic_alternating[: 21 * 96])
    assert fc.scaled_bands
    base = fc.predict_quantiles(synthetic_alternating, ISSUE)
    settled = synthetic_alternating.copy()
    window = (settled.index < ISSUE - pd.Timedelta(hours=14)) & (settled.index >= ISSUE - pd.Timedelta(days=3))
    settled[window] = 0.9 * fc.ctx.clearsky_kw(pd.DatetimeIndex(settled.index[window]))
    calm = fc.predict_quantiles(settled, ISSUE)

    def raw_csi(series: pd.Series) -> float:
        k = fc.ctx.csi(regular_grid(series[series.index < ISSUE], ISSUE))
        return float(fc.model.predict_csi(k, ISSUE, np.arange(1), fc.ctx)[0])

    assert raw_csi(settled) == pytest.approx(raw_csi(synthetic_alternating))
    day = base["p50_kw"] > 1.0

    def width(out: pd.DataFrame) -> float:
        return float((out["p90_kw"] - out["p10_kw"])[day].mean())

    assert width(calm) < 0.8 * width(base)
    fixed = Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=5,
                       scaled_bands=False).fit(synthetic_alternating[: 21 * 96])
    assert width(fixed.predict_quantiles(settled, ISSUE)) == pytest.approx(width(fixed.predict_quantiles(
        synthetic_alternating, ISSUE)), rel=0.05)  # without the scale the band ignores the regime


def test_backtest_weights_and_bands_use_only_pre_test_data() -> None:
    """The blend weights, the gbm base weights and the band offsets of a backtest are fitted before
    the test window: changing the test window leaves them unchanged, changing training data does not."""
    series = synthetic_power(16, pattern="random", seed=5)
    kw = {"models": ["gbm"], "test_days": 2, "origin_step_h": 24.0, "calibration_days": 4}

    def fitted(s: pd.Series) -> Forecaster:
        return run_backtest(s, DEFAULT_SITE, 100.0, **kw).forecasters["gbm"]  # type: ignore[arg-type]

    ref = fitted(series)
    test_start = series.index[-1] - pd.Timedelta(days=2)
    future = series.copy()
    future[future.index >= test_start] *= 0.4
    same = fitted(future)
    np.testing.assert_array_equal(ref.blend_weights, same.blend_weights)
    np.testing.assert_array_equal(ref.model.base_weights, same.model.base_weights)  # type: ignore[attr-defined]
    assert ref.calibrator.table == same.calibrator.table
    past = series.copy()
    early = past.index < test_start - pd.Timedelta(days=3)
    past[early] *= np.random.default_rng(4).uniform(0.3, 1.0, early.sum())
    other = fitted(past)
    assert ref.calibrator.table != other.calibrator.table


def test_day_ahead_bounds_on_a_series_with_known_daily_cloudiness() -> None:
    series = synthetic_power(20, pattern="random", seed=6, noise_csi=0.02)
    result = run_backtest(series, DEFAULT_SITE, 100.0, models=["persistence", "climatology"], test_days=6,
                          origin_step_h=12, calibration_days=4)
    bounds = day_ahead_bounds(result, reference="climatology")
    assert bounds["reference_nrmse"] == pytest.approx(result.metrics["climatology"]["24-48h"]["nrmse"], abs=1e-4)
    assert bounds["nrmse_needed_for_20pct"] == pytest.approx(0.8 * bounds["reference_nrmse"], abs=1e-4)
    # each day's CSI is drawn independently: knowing it is nearly perfect, the past days say nothing
    assert bounds["oracle_daily_mean_csi"]["nrmse"] < 0.03
    assert bounds["oracle_daily_mean_csi"]["reduction_vs_reference"] > 0.6
    assert bounds["oracle_daily_mean_with_reference_shape"]["nrmse"] < 0.04
    assert bounds["hindsight_constant_csi"]["nrmse"] > 5 * bounds["oracle_daily_mean_csi"]["nrmse"]
    assert bounds["hindsight_linear_from_past_days"]["nrmse"] <= bounds["hindsight_constant_csi"]["nrmse"] + 1e-9


def test_gbm_artefact_from_an_older_version_asks_for_a_retrain(fitted_gbm: Forecaster,
                                                                 synthetic_alternating: pd.Series) -> None:
    old = copy.copy(fitted_gbm)
    old.model = copy.copy(fitted_gbm.model)
    old.model.base_weights = None  # unfitted base; stale pickles are refused by registry.ARTIFACT_FORMAT
    with pytest.raises(ForecastInputError, match="retrain"):
        old.predict_quantiles(synthetic_alternating, ISSUE)
