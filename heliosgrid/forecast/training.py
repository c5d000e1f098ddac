"""Training as a pure function of the data (no database, no files): backtest every candidate model
on the last days of a site's history, refit each on the whole window, and return the fitted
forecasters with their backtest scores. The storage shell (:func:`heliosgrid.forecast.pipeline.retrain_site`)
reads the history, calls :func:`train_site_models`, and writes artefacts and registry rows in one
transaction (OpenSTEF-style split of the training pipeline from its storage layer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from heliosgrid.forecast.backtest import BacktestResult, run_backtest
from heliosgrid.forecast.ensemble import EnsembleForecaster
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.hygiene import HygieneReport, clean_power_series
from heliosgrid.forecast.solar import STEP, STEPS_PER_DAY, ForecastInputError
from heliosgrid.forecast.weather import WeatherProvider
from heliosgrid.physics.fleet import SiteSpec

#: Hours between backtest origins in a retrain (4 issue times a day).
RETRAIN_ORIGIN_STEP_H = 6.0
#: Share of 15-min intervals that must be present: daylight is about 30-50 % of a day.
MIN_VALID_SHARE = 0.3


@dataclass
class TrainedSite:
    """Output of :func:`train_site_models` (everything the storage shell writes)."""

    site_id: str
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    data_hash: str
    backtest: BacktestResult
    forecasters: dict[str, Forecaster | EnsembleForecaster] = field(default_factory=dict)
    hygiene: HygieneReport | None = None


def data_hash(series: pd.Series) -> str:
    """SHA-256 of the training data (timestamps and values rounded to 1 W)."""
    h = hashlib.sha256()
    h.update(np.asarray(series.index.asi8, dtype=np.int64).tobytes())
    h.update(np.round(series.to_numpy(dtype=float), 3).tobytes())
    return h.hexdigest()


def train_site_models(history: pd.Series, site: SiteSpec, capacity_kw: float, *, models: Sequence[str],
                      backtest_days: float, origin_step_h: float = RETRAIN_ORIGIN_STEP_H,
                      weather: WeatherProvider | None = None) -> TrainedSite:
    """Clean ``history`` (site AC power, kW, 15-min, UTC, interval-start labels;
    :func:`heliosgrid.forecast.hygiene.clean_power_series`), backtest ``models`` and the per-horizon
    champion on its last ``backtest_days`` with rolling origins, then refit each model on the whole
    history (:meth:`Forecaster.refresh`: parameters only, the backtest's calibration kept) and build the
    per-horizon champion with the backtest's per-bucket weights and bands from the refitted models.

    Raises :class:`ForecastInputError` when there is not enough history (``backtest_days`` + 7 days
    at :data:`MIN_VALID_SHARE` of the intervals).
    """
    if history.dropna().empty:
        raise ForecastInputError(f"site {site.site_id}: no measured power in the training window")
    history, report = clean_power_series(history, site, capacity_kw)
    valid = history.dropna()
    need_days = backtest_days + 7
    if len(valid) < need_days * STEPS_PER_DAY * MIN_VALID_SHARE:
        end = history.index[-1] + STEP if len(history) else "the end of the data"
        raise ForecastInputError(
            f"site {site.site_id}: {len(valid)} complete 15-min buckets before {getattr(end, 'isoformat', lambda: end)()}; "
            f"need at least {need_days:g} days of history to train and backtest"
        )
    bt = run_backtest(history, site, capacity_kw, models=list(models), test_days=backtest_days, origin_step_h=origin_step_h,
                      hygiene=report, weather=weather)
    out = TrainedSite(site.site_id, valid.index[0], valid.index[-1] + STEP, data_hash(history), bt, hygiene=report)
    # refit each model's parameters on the whole window; calibration and selection stay those of the backtest
    members = {name: fc.refresh(history) for name, fc in bt.forecasters.items()}
    out.forecasters.update(members)
    if bt.ensemble is not None:
        ens = bt.ensemble
        out.forecasters[ens.name] = EnsembleForecaster({n: members[n] for n in ens.members}, ens.weights, ens.bands,
                                                       ens.evidence, band_centre=dict(ens.band_centre),
                                                       median_centre=dict(ens.median_centre))
    return out
