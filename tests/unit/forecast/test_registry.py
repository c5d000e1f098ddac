"""Artefact format versioning and the database-free training function."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from heliosgrid.forecast import registry
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.models import make_model
from heliosgrid.forecast.solar import ForecastInputError, SolarContext
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power
from heliosgrid.forecast.training import train_site_models


@pytest.fixture(scope="module")
def persistence_fc() -> Forecaster:
    series = synthetic_power(10, pattern="random", seed=3)
    return Forecaster(make_model("persistence"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=3).fit(series)


def test_artefact_round_trip_has_a_format_header(persistence_fc: Forecaster, tmp_path: Path) -> None:
    path = tmp_path / "a.pkl"
    registry.save_artifact(persistence_fc, path)
    with path.open("rb") as fh:
        header = pickle.load(fh)
    assert header == {"format": registry.ARTIFACT_FORMAT, "model_name": "persistence", "written_by": "heliosgrid"}
    assert registry.load_artifact(path).name == "persistence"


def test_other_formats_are_refused_with_a_retrain_message(persistence_fc: Forecaster, tmp_path: Path) -> None:
    old = tmp_path / "old.pkl"
    with old.open("wb") as fh:  # format 1: one pickled dict holding the forecaster
        pickle.dump({"format": 1, "forecaster": persistence_fc}, fh)
    with pytest.raises(ForecastInputError, match="format 1, this version reads 2; retrain"):
        registry.load_artifact(old)
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"not a pickle")
    with pytest.raises(ForecastInputError, match="retrain"):
        registry.load_artifact(broken)
    with pytest.raises(ForecastInputError, match="missing"):
        registry.load_artifact(tmp_path / "none.pkl")


def test_training_is_a_pure_function_of_the_series() -> None:
    series = synthetic_power(16, pattern="alternating", seed=2)
    before = series.copy()
    a = train_site_models(series, DEFAULT_SITE, 100.0, models=["persistence", "climatology"], backtest_days=4)
    b = train_site_models(series, DEFAULT_SITE, 100.0, models=["persistence", "climatology"], backtest_days=4)
    pd.testing.assert_series_equal(series, before)  # input untouched
    assert a.data_hash == b.data_hash and a.backtest.to_json()["models"] == b.backtest.to_json()["models"]
    assert set(a.forecasters) == {"persistence", "climatology", "per_horizon"}
    with pytest.raises(ForecastInputError, match="need at least 11 days"):
        train_site_models(series[: 2 * 96], DEFAULT_SITE, 100.0, models=["persistence"], backtest_days=4)
