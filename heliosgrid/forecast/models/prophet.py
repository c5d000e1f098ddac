"""``prophet``: Prophet on the daylight CSI of the last 30 days (flat trend, daily seasonality only)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.models.base import ForecastModel
from heliosgrid.forecast.solar import STEP, ForecastInputError, SolarContext
from heliosgrid.forecast.weather import WeatherProvider


class ProphetCSI(ForecastModel):
    """Prophet fitted to the daylight clear-sky index (nights handled by ``P_cs = 0``)."""

    name = "prophet"

    def __init__(self, fit_days: int = 30) -> None:
        self.fit_days = fit_days
        self._model: Any = None
        self._cache: pd.Series | None = None

    def fit(self, k: pd.Series, ctx: SolarContext, weather: WeatherProvider | None = None) -> None:
        from prophet import Prophet

        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        logging.getLogger("prophet").setLevel(logging.WARNING)
        v = k.dropna()
        v = v[v.index >= v.index[-1] - pd.Timedelta(days=self.fit_days)] if len(v) else v
        if len(v) < 20:
            raise ForecastInputError("prophet needs at least 20 daylight intervals of history")
        frame = pd.DataFrame({"ds": v.index.tz_convert("UTC").tz_localize(None), "y": v.to_numpy()})
        # flat trend: a linear trend fitted on weeks of CSI extrapolates wildly over 48 h
        model = Prophet(growth="flat", daily_seasonality=True, weekly_seasonality=False, yearly_seasonality=False,
                        uncertainty_samples=0)
        model.fit(frame)
        self._model = model
        self._cache = None

    def _predict(self, times: pd.DatetimeIndex) -> np.ndarray:
        cache = self._cache
        if cache is None or times.min() < cache.index[0] or times.max() > cache.index[-1]:
            lo = times.min().floor("D")
            hi = max(times.max(), lo + pd.Timedelta(days=30))
            if cache is not None:
                lo, hi = min(lo, cache.index[0]), max(hi, cache.index[-1])
            grid = pd.date_range(lo, hi, freq=STEP, tz="UTC")
            yhat = self._model.predict(pd.DataFrame({"ds": grid.tz_localize(None)}))["yhat"].to_numpy()
            self._cache = cache = pd.Series(yhat, index=grid)
        return cache.reindex(times).to_numpy()

    def predict_csi(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext,
                    weather: WeatherProvider | None = None) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("prophet model is not fitted")
        return self._predict(pd.DatetimeIndex(issue_time + steps * STEP))

    def params(self) -> dict[str, Any]:
        return {"fit_days": self.fit_days, "growth": "flat", "daily_seasonality": True}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = None
        return state
