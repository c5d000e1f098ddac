"""Solar power forecasting: models, calibrated quantiles, backtests, registry and pipeline.

Public entry points:

* :class:`heliosgrid.forecast.models.Forecaster` — fit(history) / predict_quantiles(history, issue_time)
* :func:`heliosgrid.forecast.backtest.run_backtest` — rolling-origin evaluation of several models
* :mod:`heliosgrid.forecast.pipeline` — ``retrain_site``, ``run_forecasts``, ``check_drift`` (used by the DAGs)

See docs/forecasting.md for the models, features, calibration and metric definitions.
"""

from heliosgrid.forecast.solar import ForecastInputError, SolarContext

__all__ = ["ForecastInputError", "SolarContext"]
