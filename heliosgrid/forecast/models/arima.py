"""``arima``: statsforecast AutoARIMA on the CSI (night gaps carried forward), re-applied to the
latest observations at every issue time without refitting."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.models.base import ForecastModel
from heliosgrid.forecast.solar import STEPS_PER_DAY, ForecastInputError, SolarContext
from heliosgrid.forecast.weather import WeatherProvider


def _fill_csi(values: np.ndarray, fallback: float) -> np.ndarray:
    """Carry the last daylight CSI through nights and gaps (ARIMA needs a gap-free series)."""
    s = pd.Series(values).ffill().bfill()
    return s.fillna(fallback).to_numpy()


class ArimaCSI(ForecastModel):
    """statsforecast AutoARIMA on the CSI; parameters fitted once, state updated at each issue."""

    name = "arima"

    def __init__(self, fit_days: int = 14, context_days: int = 5) -> None:
        self.fit_days = fit_days
        self.context_days = context_days
        self._model: Any = None
        self._fallback = 0.7

    def fit(self, k: pd.Series, ctx: SolarContext, weather: WeatherProvider | None = None) -> None:
        from statsforecast.models import AutoARIMA

        v = k.to_numpy()[-self.fit_days * STEPS_PER_DAY :]
        valid = v[~np.isnan(v)]
        if valid.size < 20:
            raise ForecastInputError("arima needs at least 20 daylight intervals of history")
        self._fallback = float(valid.mean())
        self._model = AutoARIMA(seasonal=False).fit(_fill_csi(v, self._fallback))

    def predict_csi(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext,
                    weather: WeatherProvider | None = None) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("arima model is not fitted")
        y = _fill_csi(k.to_numpy()[-self.context_days * STEPS_PER_DAY :], self._fallback)
        h = int(steps.max()) + 1
        mean = np.asarray(self._model.forward(y=y, h=h)["mean"])
        return mean[steps]

    def params(self) -> dict[str, Any]:
        order = [int(x) for x in self._model.model_["arma"]] if self._model is not None else None
        return {"fit_days": self.fit_days, "context_days": self.context_days, "arma": order}
