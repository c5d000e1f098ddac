"""Shared synthetic data and fitted forecasters for the forecasting unit tests (module-cheap)."""

from __future__ import annotations

import pandas as pd
import pytest

from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.models import make_model
from heliosgrid.forecast.solar import SolarContext
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power


@pytest.fixture(scope="session")
def synthetic_alternating() -> pd.Series:
    """28 days of alternating clear/overcast days at a 100 kW site."""
    return synthetic_power(28, pattern="alternating", seed=3)


@pytest.fixture(scope="session")
def fitted_gbm(synthetic_alternating: pd.Series) -> Forecaster:
    train = synthetic_alternating[: 21 * 96]
    return Forecaster(make_model("gbm"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=5).fit(train)
