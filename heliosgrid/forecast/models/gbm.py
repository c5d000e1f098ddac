"""``gbm``: LightGBM regression of the target CSI on features available at the issue time, as a
correction to a per-lead blend of persistence and the 30-day slot climatology (ADR 0022)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.features import (
    DEFAULT_HORIZON_STEPS,
    GBM_FEATURES,
    HISTORY_LOOKBACK_DAYS,
    fit_base_weights,
    gbm_base,
    gbm_features,
)
from heliosgrid.forecast.models.base import ForecastModel
from heliosgrid.forecast.solar import STEP, STEPS_PER_DAY, ForecastInputError, SolarContext
from heliosgrid.forecast.weather import WeatherProvider


class GradientBoostedCSI(ForecastModel):
    """LightGBM on clear-sky-index targets, one model for all horizons (horizon is a feature).

    The trees learn the correction to a base forecast (:func:`gbm_base`: persistence intraday,
    slot climatology beyond 6 h), so with no signal the model falls back to the better simple
    reference of each horizon range; the share of the correction kept per horizon bucket is
    fitted on the calibration hold-out (:func:`fit_blend_weights`).
    """

    name = "gbm"
    uses_weather = True
    blends_persistence = True
    median_shift = False

    def __init__(self, n_estimators: int = 150, learning_rate: float = 0.03, num_leaves: int = 31,
                 min_child_samples: int = 300, max_training_rows: int = 120_000, seed: int = 7) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_training_rows = max_training_rows
        self.seed = seed
        self._booster: Any = None
        self.base_weights: np.ndarray | None = None

    def _nwp(self, weather: WeatherProvider | None, ctx: SolarContext, issue_time: pd.Timestamp,
             targets: pd.DatetimeIndex) -> np.ndarray | None:
        if weather is None:
            return None
        return weather.forecast_csi(ctx, issue_time, targets)

    def fit(self, k: pd.Series, ctx: SolarContext, weather: WeatherProvider | None = None) -> None:
        import lightgbm as lgb

        values = k.to_numpy()
        index = pd.DatetimeIndex(k.index)
        table = ctx.table(pd.date_range(index[0], index[-1] + DEFAULT_HORIZON_STEPS * STEP, freq=STEP, tz="UTC"))
        elev = table["elevation_deg"].to_numpy()
        n = len(values)
        steps = np.arange(DEFAULT_HORIZON_STEPS)
        start = 3 * STEPS_PER_DAY  # need some history for lag features
        if n - start < STEPS_PER_DAY:
            raise ForecastInputError("gbm needs at least 4 days of history")
        # one origin every `stride` steps so that the training set stays below max_training_rows
        daylight_share = float(np.mean(~np.isnan(values))) or 0.3
        per_origin = DEFAULT_HORIZON_STEPS * daylight_share
        stride = max(1, int(np.ceil((n - start) * per_origin / self.max_training_rows)))
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        for p in range(start, n, stride):
            t = p + steps
            ok = t < n
            y = np.where(ok, values[np.clip(t, 0, n - 1)], np.nan)
            keep = ~np.isnan(y)
            if not keep.any():
                continue
            st = steps[keep]
            issue = index[0] + p * STEP
            tt = pd.DatetimeIndex(issue + st * STEP)
            xs.append(gbm_features(values, p, st, table.iloc[p + st], float(elev[p]), ctx.capacity_kw,
                                   self._nwp(weather, ctx, issue, tt)))
            ys.append(y[keep])
        x = np.vstack(xs)
        k_target = np.concatenate(ys)
        self.base_weights = fit_base_weights(x[:, GBM_FEATURES.index("horizon_min")],
                                             x[:, GBM_FEATURES.index("k_persist")],
                                             x[:, GBM_FEATURES.index("k_clim_long")], k_target)
        y_all = k_target - gbm_base(x, self.base_weights)  # learn the correction to the base forecast
        params = {
            "objective": "regression", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples, "feature_fraction": 0.9, "bagging_fraction": 0.8,
            "bagging_freq": 1, "lambda_l2": 1.0, "seed": self.seed, "deterministic": True,
            "num_threads": 1, "verbosity": -1,
        }
        data = lgb.Dataset(x, label=y_all, feature_name=list(GBM_FEATURES), free_raw_data=True)
        self._booster = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.training_rows = len(y_all)

    def predict_csi(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext,
                    weather: WeatherProvider | None = None) -> np.ndarray:
        if self._booster is None:
            raise RuntimeError("gbm model is not fitted")
        if self.base_weights is None or self._booster.num_feature() != len(GBM_FEATURES):
            raise ForecastInputError("this gbm artefact was trained with an older feature set; retrain the site "
                                     "(heliosgrid forecast train)")
        x = self._features(k, issue_time, steps, ctx, weather)
        return gbm_base(x, self.base_weights) + np.asarray(self._booster.predict(x, num_threads=1))

    def _features(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext,
                  weather: WeatherProvider | None) -> np.ndarray:
        values = k.to_numpy()[-HISTORY_LOOKBACK_DAYS * STEPS_PER_DAY :]
        targets = pd.DatetimeIndex(issue_time + steps * STEP)
        table = ctx.table(targets)
        issue_elev = float(ctx.table(pd.DatetimeIndex([issue_time]))["elevation_deg"].iloc[0])
        return gbm_features(values, len(values), steps, table, issue_elev, ctx.capacity_kw,
                            self._nwp(weather, ctx, issue_time, targets))

    def reference_csi(self, k: pd.Series, issue_time: pd.Timestamp, steps: np.ndarray, ctx: SolarContext) -> np.ndarray:
        """Its own base forecast (:func:`gbm_base`): the fitted per-lead blend of persistence and the
        long slot climatology."""
        return gbm_base(self._features(k, issue_time, steps, ctx, None), self.base_weights)

    def params(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                "min_child_samples": self.min_child_samples, "features": list(GBM_FEATURES),
                "training_rows": getattr(self, "training_rows", None)}
