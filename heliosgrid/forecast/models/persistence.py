"""``persistence``: smart persistence of the clear-sky index (the skill reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.forecast.features import persistence_csi
from heliosgrid.forecast.models.base import ForecastModel
from heliosgrid.forecast.solar import SolarContext
from heliosgrid.forecast.weather import WeatherProvider


class SmartPersistence(ForecastModel):
    """Clear-sky-index persistence (the skill reference)."""

    name = "persistence"

    def predict_csi(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext,
                    weather: WeatherProvider | None = None) -> np.ndarray:
        return np.full(len(steps), persistence_csi(k.to_numpy(), len(k)))
