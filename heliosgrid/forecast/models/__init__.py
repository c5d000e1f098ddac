"""Forecast models of the clear-sky index, one per module, behind :class:`ForecastModel`.

``persistence``  smart persistence: the mean CSI of the last hour before the issue time (the last
                 daylight hour when issued at night) is held for every horizon.
``climatology``  per time-of-day CSI mean over the last 14 days before the issue time.
``prophet``      Prophet on the daylight CSI of the last 30 days (flat trend, daily seasonality, no
                 weekly/yearly terms).
``arima``        statsforecast AutoARIMA on the CSI series (night gaps carried forward), re-applied
                 to the latest observations at every issue time without refitting.
``gbm``          LightGBM regression of the target CSI on features available at the issue time, as a
                 correction to a per-lead blend of persistence and the 30-day slot climatology.

Calibrated quantiles come from :class:`heliosgrid.forecast.forecaster.Forecaster`.
"""

from __future__ import annotations

from heliosgrid.forecast.models.arima import ArimaCSI
from heliosgrid.forecast.models.base import ForecastModel
from heliosgrid.forecast.models.climatology import Climatology
from heliosgrid.forecast.models.gbm import GradientBoostedCSI
from heliosgrid.forecast.models.persistence import SmartPersistence
from heliosgrid.forecast.models.prophet import ProphetCSI
from heliosgrid.forecast.solar import ForecastInputError

MODEL_CLASSES: dict[str, type[ForecastModel]] = {
    cls.name: cls for cls in (SmartPersistence, Climatology, ProphetCSI, ArimaCSI, GradientBoostedCSI)
}


def make_model(name: str) -> ForecastModel:
    """A fresh model by name (``persistence``, ``climatology``, ``prophet``, ``arima``, ``gbm``)."""
    try:
        return MODEL_CLASSES[name]()
    except KeyError:
        raise ForecastInputError(f"unknown model {name!r}; choose from {', '.join(MODEL_CLASSES)}") from None


__all__ = ["MODEL_CLASSES", "ArimaCSI", "Climatology", "ForecastModel", "GradientBoostedCSI", "ProphetCSI",
           "SmartPersistence", "make_model"]
