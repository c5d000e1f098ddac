"""Model behaviour: available-at semantics, quantile order, nights, capacity, persistence, skill."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heliosgrid.forecast.backtest import run_backtest
from heliosgrid.forecast.calibration import ResidualCalibrator
from heliosgrid.forecast.features import persistence_csi
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.models import make_model
from heliosgrid.forecast.registry import load_artifact, save_artifact, should_promote
from heliosgrid.forecast.solar import ForecastInputError, SolarContext
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power

ISSUE = pd.Timestamp("2024-05-23T06:00Z")  # 22 days after the synthetic start


def test_changing_data_after_issue_time_leaves_forecast_unchanged(
    fitted_gbm: Forecaster, synthetic_alternating: pd.Series
) -> None:
    base = fitted_gbm.predict_quantiles(synthetic_alternating, ISSUE)
    tampered = synthetic_alternating.copy()
    tampered[tampered.index >= ISSUE] = 0.0  # includes the interval labelled at the issue time
    again = fitted_gbm.predict_quantiles(tampered, ISSUE)
    pd.testing.assert_frame_equal(base, again)
    # and the forecast does react to data before the issue time (so the check above can fail)
    earlier = synthetic_alternating.copy()
    earlier[(earlier.index < ISSUE) & (earlier.index >= ISSUE - pd.Timedelta(days=2))] *= 0.3
    changed = fitted_gbm.predict_quantiles(earlier, ISSUE)
    assert not np.allclose(changed["p50_kw"], base["p50_kw"])


@pytest.mark.parametrize("name", ["persistence", "climatology", "gbm"])
def test_quantiles_ordered_zero_at_night_within_capacity(name: str, synthetic_alternating: pd.Series,
                                                         fitted_gbm: Forecaster) -> None:
    fc = fitted_gbm if name == "gbm" else Forecaster(make_model(name), SolarContext(DEFAULT_SITE, 100.0),
                                                     calibration_days=5).fit(synthetic_alternating[: 21 * 96])
    out = fc.predict_quantiles(synthetic_alternating, ISSUE)
    assert len(out) == 192
    assert list(out["horizon_min"][:3]) == [0, 15, 30]
    assert (out["target_ts"].iloc[0]) == ISSUE
    assert (out["p10_kw"] <= out["p50_kw"]).all() and (out["p50_kw"] <= out["p90_kw"]).all()
    assert (out["p10_kw"] >= 0).all() and (out["p90_kw"] <= 100.0 + 1e-9).all()
    night = fc.ctx.clearsky_kw(pd.DatetimeIndex(out["target_ts"])) == 0
    assert night.sum() > 40
    assert (out.loc[night, ["p10_kw", "p50_kw", "p90_kw"]].to_numpy() == 0).all()
    assert (out.loc[~night, "p90_kw"] > 0).any()


def test_capacity_clip_with_wide_band(synthetic_alternating: pd.Series) -> None:
    fc = Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=5)
    fc.fit(synthetic_alternating[: 21 * 96])
    fc.calibrator = ResidualCalibrator(overall=(-0.2, 0.4, 3.0))  # absurdly wide upper tail
    out = fc.predict_quantiles(synthetic_alternating, ISSUE)
    assert out["p90_kw"].max() == pytest.approx(100.0)
    assert (out["p50_kw"] <= 100.0).all()


def test_persistence_csi_rules() -> None:
    k = np.array([np.nan, 0.2, 0.4, np.nan, np.nan, np.nan, np.nan, 0.9, 0.5])
    assert persistence_csi(k, 9) == pytest.approx(0.7)  # mean of the valid values of the last hour (4 steps)
    night = np.concatenate([[0.6, 0.8], np.full(10, np.nan)])
    assert persistence_csi(night, len(night)) == pytest.approx(0.7)  # last daylight values
    assert persistence_csi(np.full(5, np.nan), 5) == 1.0  # nothing known: clear sky


def test_persistence_forecast_is_csi_times_clearsky(synthetic_alternating: pd.Series) -> None:
    fc = Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), fit_clearsky_scale=False)
    fc.fit(synthetic_alternating[: 21 * 96])
    fc.calibrator = ResidualCalibrator(overall=(0.0, 0.0, 0.0))
    issue = pd.Timestamp("2024-05-23T14:00Z")  # afternoon in Spain: daylight history just before
    out = fc.predict_quantiles(synthetic_alternating, issue)
    s = synthetic_alternating
    hist = s[(s.index < issue) & (s.index >= issue - pd.Timedelta(hours=1))]
    k0 = float(np.mean(hist.to_numpy() / fc.ctx.clearsky_kw(pd.DatetimeIndex(hist.index))))
    expected = np.clip(k0 * fc.ctx.clearsky_kw(pd.DatetimeIndex(out["target_ts"])), 0, 100.0)
    np.testing.assert_allclose(out["p50_kw"].to_numpy(), expected, rtol=1e-9, atol=1e-9)


def test_gbm_beats_persistence_where_the_answer_is_known(synthetic_alternating: pd.Series) -> None:
    """Alternating clear/overcast days: persistence is wrong every day-ahead, gbm can learn the cycle."""
    result = run_backtest(synthetic_alternating, DEFAULT_SITE, 100.0, models=["persistence", "gbm"],
                          test_days=6, origin_step_h=6, calibration_days=5)
    gbm = result.metrics["gbm"]
    assert gbm["24-48h"]["skill"] > 0.5
    assert gbm["all"]["skill"] > 0.3
    assert gbm["0-1h"]["skill"] > -0.2  # same-day: persistence is already right there
    assert result.champion == "per_horizon"
    assert result.champion_by_bucket["24-48h"] != "persistence"  # the hold-out already shows gbm's edge
    # calibrated band covers roughly the nominal 80 % on this easy series
    assert 0.6 <= gbm["all"]["coverage_p10_p90"] <= 1.0


def test_bad_inputs_are_refused(fitted_gbm: Forecaster, synthetic_alternating: pd.Series) -> None:
    with pytest.raises(ForecastInputError, match="timezone-aware"):
        fitted_gbm.predict_quantiles(synthetic_alternating, pd.Timestamp("2024-05-23T06:00"))
    with pytest.raises(ForecastInputError, match="15-minute grid"):
        fitted_gbm.predict_quantiles(synthetic_alternating, pd.Timestamp("2024-05-23T06:07Z"))
    with pytest.raises(ForecastInputError, match="at least 4 days"):
        Forecaster(make_model("gbm"), SolarContext(DEFAULT_SITE, 100.0)).fit(synthetic_alternating[:96])
    with pytest.raises(ForecastInputError, match="unknown model"):
        make_model("oracle")


@pytest.mark.parametrize("name", ["prophet", "arima"])
def test_statistical_models_on_a_short_series(name: str, tmp_path: Path) -> None:
    series = synthetic_power(10, pattern="random", seed=5)
    fc = Forecaster(make_model(name), SolarContext(DEFAULT_SITE, 100.0), calibration_days=3).fit(series[: 8 * 96])
    out = fc.predict_quantiles(series, pd.Timestamp("2024-05-09T06:00Z"), 96)
    assert len(out) == 96
    assert (out["p10_kw"] <= out["p50_kw"]).all() and (out["p50_kw"] <= out["p90_kw"]).all()
    assert out["p50_kw"].max() > 10.0  # a daytime forecast, not all zeros
    assert json.loads(json.dumps(fc.describe(), allow_nan=False))["model"]  # registry params are JSON
    # the registry artefact round-trips and predicts the same
    save_artifact(fc, tmp_path / "m.pkl")
    again = load_artifact(tmp_path / "m.pkl").predict_quantiles(series, pd.Timestamp("2024-05-09T06:00Z"), 96)
    pd.testing.assert_frame_equal(out, again)


def test_promotion_rule() -> None:
    good = {"24-48h": {"nrmse": 0.20, "skill": 0.2}, "0-1h": {"nrmse": 0.1, "skill": 0.1}}
    worse = {"24-48h": {"nrmse": 0.25, "skill": 0.1}, "0-1h": {"nrmse": 0.1, "skill": 0.0}}
    tie_better_skill = {"24-48h": {"nrmse": 0.2002, "skill": 0.3}, "0-1h": {"nrmse": 0.1, "skill": 0.3}}
    assert should_promote(good, None) == (True, "no current champion")
    assert should_promote(good, worse)[0] is True
    assert should_promote(worse, good)[0] is False
    assert should_promote(tie_better_skill, good)[0] is True  # within the margin, higher mean skill
    assert should_promote(good, tie_better_skill)[0] is False
    assert should_promote({"0-1h": {"nrmse": 0.1}}, good)[0] is False  # no day-ahead score: never over a champion
