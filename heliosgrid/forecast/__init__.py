"""Solar power forecasting: input hygiene, models, calibrated quantiles, backtests, registry and pipeline.

Public entry points:

* :func:`heliosgrid.forecast.hygiene.clean_power_series` — counts and fixes input problems (ADR 0121)
* :class:`heliosgrid.forecast.forecaster.Forecaster` — fit(history) / predict_quantiles(history, issue_time)
* :class:`heliosgrid.forecast.ensemble.EnsembleForecaster` — the per-horizon champion (ADR 0120)
* :func:`heliosgrid.forecast.backtest.run_backtest` — rolling-origin evaluation of several models
* :func:`heliosgrid.forecast.training.train_site_models` — training as a pure function of the data
* :mod:`heliosgrid.forecast.registry` — artefacts (format-versioned) and ``models`` rows
* :mod:`heliosgrid.forecast.pipeline` — ``retrain_site``, ``run_forecasts``, ``check_drift`` (used by the DAGs)
* :class:`heliosgrid.forecast.open_meteo.OpenMeteoProvider` — the weather-forecast feed (ADR 0122)

See docs/forecasting.md for the models, features, calibration and metric definitions.
"""

from heliosgrid.forecast.solar import ForecastInputError, SolarContext

__all__ = ["ForecastInputError", "SolarContext"]
