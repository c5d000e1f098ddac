"""``climatology``: per time-of-day CSI mean over the last 14 days before the issue time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.features import slot_climatology
from heliosgrid.forecast.models.base import ForecastModel
from heliosgrid.forecast.solar import SolarContext
from heliosgrid.forecast.weather import WeatherProvider


class Climatology(ForecastModel):
    """Time-of-day CSI climatology over a trailing window."""

    name = "climatology"

    def __init__(self, window_days: int = 14) -> None:
        self.window_days = window_days
        self.overall_csi = 0.7

    def fit(self, k: pd.Series, ctx: SolarContext, weather: WeatherProvider | None = None) -> None:
        v = k.dropna()
        self.overall_csi = float(v.mean()) if len(v) else 0.7

    def predict_csi(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext,
                    weather: WeatherProvider | None = None) -> np.ndarray:
        out = slot_climatology(k.to_numpy(), len(k), steps, self.window_days)
        return np.where(np.isnan(out), self.overall_csi, out)

    def params(self) -> dict[str, Any]:
        return {"window_days": self.window_days}
