"""The model interface: every model predicts the clear-sky index (CSI) of future 15-min intervals.

Power follows as ``k × P_cs`` (see :mod:`heliosgrid.forecast.solar`), which makes nights exactly zero and
keeps forecasts under the plant's AC capacity.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from heliosgrid.forecast.features import persistence_csi
from heliosgrid.forecast.solar import SolarContext
from heliosgrid.forecast.weather import WeatherProvider


class ForecastModel(abc.ABC):
    """A point model of the clear-sky index.

    ``fit`` sees only training history; ``predict_csi`` receives the CSI on the regular grid up to
    the interval before the issue time (position ``p = len(k)`` is the issue time) and returns the
    CSI for grid positions ``p + steps``.
    """

    name: ClassVar[str]
    uses_weather: ClassVar[bool] = False
    #: Blend with ``reference_csi`` per horizon bucket (weights fitted on the calibration hold-out).
    blends_persistence: ClassVar[bool] = False
    #: Shift P50 by the median hold-out residual (bias correction). Right for models that cannot
    #: learn their own bias (persistence, climatology, prophet, arima); off for the L2-trained gbm.
    median_shift: ClassVar[bool] = True

    def fit(self, k: pd.Series, ctx: SolarContext, weather: WeatherProvider | None = None) -> None:
        """Fit on the historical CSI series ``k`` (regular 15-min grid, NaN at night/gaps).

        The default does nothing (models that compute everything from the history at issue time).
        """
        return None

    @abc.abstractmethod
    def predict_csi(
        self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext,
        weather: WeatherProvider | None = None,
    ) -> np.ndarray:
        """CSI for targets ``issue_time + steps × 15 min`` given CSI history ``k`` (labels < issue_time)."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters for the model registry."""
        return {}

    def reference_csi(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext) -> np.ndarray:
        """The simple forecast this model is blended with (``blends_persistence``): smart persistence."""
        return np.full(len(steps), persistence_csi(k.to_numpy(), len(k)))
