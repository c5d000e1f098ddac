"""Forecast models behind one interface, and the calibrated quantile forecaster around them.

Every model predicts the **clear-sky index** (CSI) of future 15-min intervals; power follows as
``k × P_cs`` (see :mod:`heliosgrid.forecast.solar`), which makes nights exactly zero and keeps
forecasts under the plant's AC capacity. Models:

``persistence``  smart persistence: the mean CSI of the last hour before the issue time (the last
                 daylight hour when issued at night) is held for every horizon.
``climatology``  per time-of-day CSI mean over the last 14 days before the issue time.
``prophet``      Prophet on the daylight CSI of the last 30 days (flat trend, daily seasonality, no
                 weekly/yearly terms).
``arima``        statsforecast AutoARIMA on the CSI series (night gaps carried forward), re-applied
                 to the latest observations at every issue time without refitting.
``gbm``          LightGBM regression of the target CSI on features available at the issue time
                 (recent CSI level and variability, same-slot CSI of previous days, 7/14-day slot
                 climatology, horizon, sun position, clear-sky power, optional NWP clear-sky index),
                 as a correction to a per-lead blend of persistence and the 30-day slot climatology.

The :class:`Forecaster` adds calibrated P10/P50/P90: empirical quantiles of CSI residuals from
rolling-origin forecasts on the last part of the training history, per horizon bucket and
predicted-CSI regime, normalised by the CSI variability of the last days (split conformal with a
finite-sample correction and a drift margin; ADR 0022). It enforces "available at" semantics structurally:
``predict_quantiles`` drops every observation labelled at or after the issue time before any
model sees the history.
"""

from __future__ import annotations

import abc
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from heliosgrid.forecast.solar import CSI_MAX, STEP, STEPS_PER_DAY, ForecastInputError, SolarContext, regular_grid
from heliosgrid.forecast.weather import WeatherProvider

log = logging.getLogger(__name__)

DEFAULT_HORIZON_STEPS = 192  # 48 h of 15-min intervals
QUANTILES = (0.1, 0.5, 0.9)
#: Calibration cells: horizon bucket edges (minutes) and predicted-CSI regime edges.
CAL_HORIZON_EDGES_MIN = (0, 60, 180, 360, 1440, 2880)
CAL_REGIME_EDGES = (0.35, 0.75)
CAL_MIN_SAMPLES = 40
BLEND_MAX_HORIZON_MIN = 360


def horizon_steps(horizon_h: float) -> int:
    """Number of 15-min steps covering ``horizon_h`` hours."""
    return max(1, round(horizon_h * 4))


def persistence_csi(k: np.ndarray, p: int) -> float:
    """Smart-persistence CSI at grid position ``p`` (issue time) from CSI values ``k[:p]``.

    Mean of the valid values in the last hour; if none (issued at night or after a gap), the mean
    of the last four valid daylight values within the previous three days; else 1.0 (clear sky).
    """
    recent = k[max(0, p - 4) : p]
    valid = recent[~np.isnan(recent)]
    if valid.size:
        return float(valid.mean())
    window = k[max(0, p - 3 * STEPS_PER_DAY) : p]
    valid = window[~np.isnan(window)]
    if valid.size:
        return float(valid[-4:].mean())
    return 1.0


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


class SmartPersistence(ForecastModel):
    """Clear-sky-index persistence (the skill reference)."""

    name = "persistence"

    def predict_csi(self, k, issue_time, steps, ctx, weather=None):  # type: ignore[no-untyped-def]
        return np.full(len(steps), persistence_csi(k.to_numpy(), len(k)))


def slot_climatology(k: np.ndarray, p: int, steps: np.ndarray, days: int, half_width: int = 0) -> np.ndarray:
    """Mean CSI of the same 15-min slot over the ``days`` most recent days available before ``p``;
    with ``half_width`` > 0 also of the ``half_width`` neighbouring slots on each side (a smoother
    time-of-day profile)."""
    t = p + steps
    first = steps // STEPS_PER_DAY + 1  # smallest whole-day lag that lands before the issue time
    lags = first[:, None] + np.arange(days)[None, :]
    idx = t[:, None] - STEPS_PER_DAY * lags
    if half_width > 0:
        idx = (idx[:, :, None] + np.arange(-half_width, half_width + 1)[None, None, :]).reshape(len(steps), -1)
        idx = np.where(idx < p, idx, -1)  # neighbours must also lie before the issue time
    valid_idx = idx >= 0
    vals = np.where(valid_idx, k[np.clip(idx, 0, max(len(k) - 1, 0))] if len(k) else np.nan, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmean(vals, axis=1))


class Climatology(ForecastModel):
    """Time-of-day CSI climatology over a trailing window."""

    name = "climatology"

    def __init__(self, window_days: int = 14) -> None:
        self.window_days = window_days
        self.overall_csi = 0.7

    def fit(self, k, ctx, weather=None):  # type: ignore[no-untyped-def]
        v = k.dropna()
        self.overall_csi = float(v.mean()) if len(v) else 0.7

    def predict_csi(self, k, issue_time, steps, ctx, weather=None):  # type: ignore[no-untyped-def]
        out = slot_climatology(k.to_numpy(), len(k), steps, self.window_days)
        return np.where(np.isnan(out), self.overall_csi, out)

    def params(self) -> dict[str, Any]:
        return {"window_days": self.window_days}


class ProphetCSI(ForecastModel):
    """Prophet fitted to the daylight clear-sky index (nights handled by ``P_cs = 0``)."""

    name = "prophet"

    def __init__(self, fit_days: int = 30) -> None:
        self.fit_days = fit_days
        self._model: Any = None
        self._cache: pd.Series | None = None

    def fit(self, k, ctx, weather=None):  # type: ignore[no-untyped-def]
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

    def predict_csi(self, k, issue_time, steps, ctx, weather=None):  # type: ignore[no-untyped-def]
        if self._model is None:
            raise RuntimeError("prophet model is not fitted")
        return self._predict(pd.DatetimeIndex(issue_time + steps * STEP))

    def params(self) -> dict[str, Any]:
        return {"fit_days": self.fit_days, "growth": "flat", "daily_seasonality": True}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = None
        return state


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

    def fit(self, k, ctx, weather=None):  # type: ignore[no-untyped-def]
        from statsforecast.models import AutoARIMA

        v = k.to_numpy()[-self.fit_days * STEPS_PER_DAY :]
        valid = v[~np.isnan(v)]
        if valid.size < 20:
            raise ForecastInputError("arima needs at least 20 daylight intervals of history")
        self._fallback = float(valid.mean())
        self._model = AutoARIMA(seasonal=False).fit(_fill_csi(v, self._fallback))

    def predict_csi(self, k, issue_time, steps, ctx, weather=None):  # type: ignore[no-untyped-def]
        if self._model is None:
            raise RuntimeError("arima model is not fitted")
        y = _fill_csi(k.to_numpy()[-self.context_days * STEPS_PER_DAY :], self._fallback)
        h = int(steps.max()) + 1
        mean = np.asarray(self._model.forward(y=y, h=h)["mean"])
        return mean[steps]

    def params(self) -> dict[str, Any]:
        order = [int(x) for x in self._model.model_["arma"]] if self._model is not None else None
        return {"fit_days": self.fit_days, "context_days": self.context_days, "arma": order}


GBM_FEATURES = (
    "horizon_min", "k_persist", "k_last", "k_mean_3h", "k_std_3h", "k_mean_24h", "k_same_slot",
    "k_clim_7d", "k_clim_14d", "clearsky_frac", "elevation_deg", "azimuth_deg", "issue_elevation_deg", "nwp_csi",
    "k_clim_long",
)
#: The long climatology in the gbm's base forecast: days, and neighbouring slots on each side.
CLIM_LONG_DAYS = 30
CLIM_LONG_HALF_WIDTH = 2
#: Days of history a forecast looks at (long climatology at 48 h lead plus margin).
HISTORY_LOOKBACK_DAYS = CLIM_LONG_DAYS + 5


def gbm_features(
    k: np.ndarray, p: int, steps: np.ndarray, table: pd.DataFrame, issue_elevation_deg: float,
    capacity_kw: float, nwp_csi: np.ndarray | None,
) -> np.ndarray:
    """Feature matrix (len(steps) × len(GBM_FEATURES)) for issue position ``p`` from ``k[:p]`` only."""
    n = len(steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        last3h = k[max(0, p - 12) : p]
        valid_last = k[max(0, p - 4) : p]
        valid_last = valid_last[~np.isnan(valid_last)]
        k_last = float(valid_last[-1]) if valid_last.size else np.nan
        k_mean_3h = float(np.nanmean(last3h)) if last3h.size else np.nan
        k_std_3h = float(np.nanstd(last3h)) if last3h.size else np.nan
        day = k[max(0, p - STEPS_PER_DAY) : p]
        k_mean_24h = float(np.nanmean(day)) if day.size else np.nan
    t = p + steps
    lag = STEPS_PER_DAY * (steps // STEPS_PER_DAY + 1)
    same_idx = t - lag
    k_same = np.where(same_idx >= 0, k[np.clip(same_idx, 0, max(len(k) - 1, 0))] if len(k) else np.nan, np.nan)
    clim = slot_climatology(k, p, steps, 7)
    clim14 = slot_climatology(k, p, steps, 14)
    clim_long = slot_climatology(k, p, steps, CLIM_LONG_DAYS, CLIM_LONG_HALF_WIDTH)
    cols = [
        steps * 15.0,
        np.full(n, persistence_csi(k, p)),
        np.full(n, k_last),
        np.full(n, k_mean_3h),
        np.full(n, k_std_3h),
        np.full(n, k_mean_24h),
        k_same,
        clim,
        clim14,
        table["clearsky_kw"].to_numpy() / capacity_kw,
        table["elevation_deg"].to_numpy(),
        table["azimuth_deg"].to_numpy(),
        np.full(n, issue_elevation_deg),
        nwp_csi if nwp_csi is not None else np.full(n, np.nan),
        clim_long,
    ]
    return np.column_stack(cols)


BASE_HOUR_BINS = DEFAULT_HORIZON_STEPS // 4  # one persistence weight per hour of lead


def fit_base_weights(horizon_min: np.ndarray, k_persist: np.ndarray, k_clim: np.ndarray, k_obs: np.ndarray,
                     min_samples: int = 50) -> np.ndarray:
    """Per hour of lead, the weight ``w ∈ [0, 1]`` of smart persistence in
    ``w × k_persist + (1 − w) × k_clim`` that minimises the squared CSI error (closed form).

    Fitted on training samples only. Where the slot climatology is unknown the base is persistence.
    Hours with fewer than ``min_samples`` usable samples fall back to the previous hour's weight
    (1.0 for the first), and the weights are made non-increasing with lead (persistence never gains
    weight with lead), which keeps the base smooth and robust.
    """
    ok = ~(np.isnan(k_persist) | np.isnan(k_clim) | np.isnan(k_obs))
    hour = np.clip((horizon_min // 60).astype(int), 0, BASE_HOUR_BINS - 1)
    w = np.ones(BASE_HOUR_BINS)
    prev = 1.0
    for b in range(BASE_HOUR_BINS):
        sel = ok & (hour == b)
        if sel.sum() >= min_samples:
            d = k_persist[sel] - k_clim[sel]
            denom = float(np.dot(d, d))
            if denom > 0:
                prev = float(np.clip(np.dot(d, k_obs[sel] - k_clim[sel]) / denom, 0.0, 1.0))
        w[b] = prev
    return np.minimum.accumulate(w)


def gbm_base(x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Base forecast the trees correct: a per-lead-hour linear blend of persistence and the long
    (30-day, ±30 min smoothed) slot climatology (``weights`` = persistence share per hour of lead, :func:`fit_base_weights`);
    without weights persistence below 6 h and the climatology beyond. Where the climatology is
    unknown the base is persistence. With no signal the model falls back to it."""
    h = x[:, GBM_FEATURES.index("horizon_min")]
    persist = x[:, GBM_FEATURES.index("k_persist")]
    clim = x[:, GBM_FEATURES.index("k_clim_long")]
    if weights is None:
        w = np.where(h >= BLEND_MAX_HORIZON_MIN, 0.0, 1.0)
    else:
        w = weights[np.clip((h // 60).astype(int), 0, len(weights) - 1)]
    return np.where(np.isnan(clim), persist, w * persist + (1.0 - w) * clim)


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

    def fit(self, k, ctx, weather=None):  # type: ignore[no-untyped-def]
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

    def predict_csi(self, k, issue_time, steps, ctx, weather=None):  # type: ignore[no-untyped-def]
        if self._booster is None:
            raise RuntimeError("gbm model is not fitted")
        if "base_weights" not in self.__dict__ or self._booster.num_feature() != len(GBM_FEATURES):
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


MODEL_CLASSES: dict[str, type[ForecastModel]] = {
    cls.name: cls for cls in (SmartPersistence, Climatology, ProphetCSI, ArimaCSI, GradientBoostedCSI)
}


def make_model(name: str) -> ForecastModel:
    """A fresh model by name (``persistence``, ``climatology``, ``prophet``, ``arima``, ``gbm``)."""
    try:
        return MODEL_CLASSES[name]()
    except KeyError:
        raise ForecastInputError(f"unknown model {name!r}; choose from {', '.join(MODEL_CLASSES)}") from None


def conformal_levels(n: int, margin: float = 0.0) -> tuple[float, float, float]:
    """Split-conformal (finite-sample) quantile levels for P10/P50/P90 from ``n`` residuals:
    the upper level is ``⌈(n+1)·(0.9+margin)⌉ / n`` and the lower ``⌊(n+1)·(0.1−margin)⌋ / n``
    (clipped to [0, 1]), which makes each one-sided miss rate ≤ 10 % − margin for exchangeable
    residuals. ``margin`` widens the band against drift (see :attr:`ResidualCalibrator.margin`)."""
    if n <= 0:
        return QUANTILES
    lo = max(0.0, np.floor((n + 1) * (QUANTILES[0] - margin)) / n)
    hi = min(1.0, np.ceil((n + 1) * (QUANTILES[2] + margin)) / n)
    return (float(lo), QUANTILES[1], float(hi))


def _cell_quantiles(r: np.ndarray, r_raw: np.ndarray, margin: float = 0.0) -> tuple[float, float, float]:
    """(P10 of the scaled residuals ``r``, median of the raw residuals ``r_raw``, P90 of ``r``)."""
    lo, _, hi = conformal_levels(r.size, margin)
    return float(np.quantile(r, lo)), float(np.median(r_raw)), float(np.quantile(r, hi))


#: Quantile-level margin of the P10/P90 band (see :func:`conformal_levels`): 0 = plain conformal.
BAND_MARGIN = 0.025
#: Floor of :func:`regime_variability` (dimensionless CSI standard deviation).
VARIABILITY_FLOOR = 0.05
VARIABILITY_DAYS = 3


def regime_variability(k: np.ndarray) -> float:
    """Weather-regime variability known at the issue time (``k`` ends just before it): the standard
    deviation of the valid daylight CSI values of the last :data:`VARIABILITY_DAYS` days, floored at
    :data:`VARIABILITY_FLOOR`. Used as the scale of the conformity score (normalised conformal), so
    bands widen after variable days and narrow in settled weather. Dimensionless."""
    window = k[-VARIABILITY_DAYS * STEPS_PER_DAY :]
    valid = window[~np.isnan(window)]
    if valid.size < 8:
        return 0.25
    return float(max(VARIABILITY_FLOOR, np.std(valid)))


@dataclass
class ResidualCalibrator:
    """Empirical CSI-residual quantiles per (horizon bucket, predicted-CSI regime) cell.

    A cell with fewer than ``CAL_MIN_SAMPLES`` residuals falls back to its horizon bucket, then to
    all residuals. Residual ``r = k_observed - k_predicted``. Normalised conformal: with a scale
    ``s`` known at the issue time (:func:`regime_variability`), P10/P90 are
    ``k_predicted + s × Q(r / s)`` at finite-sample conformal levels (:func:`conformal_levels`);
    P50 is ``k_predicted + median(r)`` (a bias correction, not scaled).
    """

    table: dict[tuple[int, int], tuple[float, float, float]] = field(default_factory=dict)
    bucket_table: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    overall: tuple[float, float, float] = (-0.3, 0.0, 0.2)
    n_samples: int = 0
    #: Quantile-level margin (fraction) that widens the band beyond plain split conformal.
    margin: float = 0.0

    @staticmethod
    def cells(horizon_min: np.ndarray, k_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hb = np.clip(np.searchsorted(CAL_HORIZON_EDGES_MIN, horizon_min, side="right") - 1, 0, len(CAL_HORIZON_EDGES_MIN) - 2)
        rg = np.searchsorted(CAL_REGIME_EDGES, k_hat, side="right")
        return hb, rg

    def fit(self, horizon_min: np.ndarray, k_hat: np.ndarray, k_obs: np.ndarray,
            scale: np.ndarray | None = None) -> ResidualCalibrator:
        """Fit the cell quantiles: P10/P90 of ``(k_obs − k_hat) / scale`` (scale 1 when not given),
        P50 of ``k_obs − k_hat`` (the bias correction does not scale with the variability)."""
        sc = np.ones_like(k_hat) if scale is None else scale
        ok = ~(np.isnan(k_hat) | np.isnan(k_obs) | np.isnan(sc))
        h, kh, r, raw = horizon_min[ok], k_hat[ok], ((k_obs - k_hat) / sc)[ok], (k_obs - k_hat)[ok]
        self.n_samples = int(r.size)
        if r.size == 0:
            return self
        return self._fit_cells(h, kh, r, raw)

    def _fit_cells(self, h: np.ndarray, kh: np.ndarray, r: np.ndarray, raw: np.ndarray) -> ResidualCalibrator:
        self.overall = _cell_quantiles(r, raw, self.margin)
        hb, rg = self.cells(h, kh)
        for b in np.unique(hb):
            sel = hb == b
            if sel.sum() >= CAL_MIN_SAMPLES:
                self.bucket_table[int(b)] = _cell_quantiles(r[sel], raw[sel], self.margin)
            for g in np.unique(rg[sel]):
                cell = sel & (rg == g)
                if cell.sum() >= CAL_MIN_SAMPLES:
                    self.table[(int(b), int(g))] = _cell_quantiles(r[cell], raw[cell], self.margin)
        return self

    def offsets(self, horizon_min: np.ndarray, k_hat: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Residual quantile offsets, shape (n, 3), for P10/P50/P90: the P10/P90 offsets times
        ``scale``; the P50 offset (median bias correction) is not scaled."""
        hb, rg = self.cells(horizon_min, k_hat)
        out = np.empty((len(horizon_min), 3))
        for i, (b, g) in enumerate(zip(hb.tolist(), rg.tolist(), strict=True)):
            out[i] = self.table.get((b, g)) or self.bucket_table.get(b) or self.overall
        out[:, [0, 2]] *= scale
        return out


def fit_blend_weights(horizon_min: np.ndarray, k_model: np.ndarray, k_persist: np.ndarray, k_obs: np.ndarray) -> np.ndarray:
    """Per calibration horizon bucket, the weight ``w ∈ [0, 1]`` of the reference forecast in
    ``w × k_reference + (1 − w) × k_model`` that minimises the squared CSI error (closed form).

    The reference is the model's :meth:`ForecastModel.reference_csi` (gbm: its own base, i.e.
    persistence below 6 h and the slot climatology beyond), so the weight says how much of the
    trees' correction survives out of sample.
    """
    ok = ~(np.isnan(k_model) | np.isnan(k_obs) | np.isnan(k_persist))
    hb = ResidualCalibrator.cells(horizon_min, k_model)[0]
    weights = np.zeros(len(CAL_HORIZON_EDGES_MIN) - 1)
    for b in range(len(weights)):
        sel = ok & (hb == b)
        if sel.sum() < CAL_MIN_SAMPLES:
            continue
        d = k_persist[sel] - k_model[sel]
        denom = float(np.dot(d, d))
        if denom > 0:
            weights[b] = float(np.clip(np.dot(d, k_obs[sel] - k_model[sel]) / denom, 0.0, 1.0))
    return weights


def truncate_history(series: pd.Series, issue_time: pd.Timestamp) -> pd.Series:
    """Only what is available at ``issue_time``: values labelled strictly before it (15-min intervals)."""
    return series[series.index < issue_time]


def check_power_series(series: pd.Series) -> pd.Series:
    """Validate and normalise a power series: tz-aware UTC, sorted, unique, on the 15-min grid."""
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ForecastInputError("power series must have a DatetimeIndex")
    if series.index.tz is None:
        raise ForecastInputError("power series timestamps must be timezone-aware")
    s = series.astype(float).copy()
    s.index = s.index.tz_convert("UTC")
    s = s[~s.index.duplicated(keep="last")].sort_index()
    if len(s) and ((s.index - s.index.floor(STEP)) != pd.Timedelta(0)).any():
        raise ForecastInputError("power series must be at 15-minute resolution (labels on :00, :15, :30, :45)")
    return s


class Forecaster:
    """A model plus calibration and the site's solar context: the unit that is trained and stored."""

    def __init__(self, model: ForecastModel, ctx: SolarContext, *, calibration_days: int = 10,
                 calibration_origin_step_h: float = 2.0, fit_clearsky_scale: bool = True,
                 weather: WeatherProvider | None = None, median_shift: bool | None = None,
                 calibration_folds: int = 1, scaled_bands: bool = True, band_margin: float = BAND_MARGIN) -> None:
        self.model = model
        self.band_margin = band_margin
        self.scaled_bands = scaled_bands
        self.calibration_folds = calibration_folds
        self.calibration_folds_used = 0
        self.median_shift = model.median_shift if median_shift is None else median_shift
        self.ctx = ctx
        self.calibration_days = calibration_days
        self.calibration_origin_step_h = calibration_origin_step_h
        self.fit_clearsky_scale = fit_clearsky_scale
        self.weather = weather if model.uses_weather else None
        self.calibrator = ResidualCalibrator()
        self.blend_weights: np.ndarray = np.zeros(len(CAL_HORIZON_EDGES_MIN) - 1)
        self.train_start: pd.Timestamp | None = None
        self.train_end: pd.Timestamp | None = None

    @property
    def name(self) -> str:
        return self.model.name

    def _csi_grid(self, history: pd.Series, end_exclusive: pd.Timestamp | None = None) -> pd.Series:
        grid = regular_grid(history, end_exclusive)
        return self.ctx.csi(grid)

    def fit(self, history: pd.Series) -> Forecaster:
        """Fit the clear-sky scale, the model and the residual calibration on ``history`` only.

        Cross-conformal over ``calibration_folds`` consecutive hold-out blocks of
        ``calibration_days`` days at the end of the history (together at most half of it): for each
        block the model is fitted on the history *before* the block and issues forecasts every
        ``calibration_origin_step_h`` hours over it; the pooled residuals give the blend weights and
        the quantile offsets. Then the model is refitted on the whole history.
        """
        history = check_power_series(history).dropna()
        if len(history) < 4 * STEPS_PER_DAY:
            raise ForecastInputError(f"need at least 4 days of 15-min history to train, got {len(history)} intervals")
        self.train_start, self.train_end = history.index[0], history.index[-1] + STEP
        if self.fit_clearsky_scale:
            self.ctx.fit_scale(history)
        span_days = (self.train_end - self.train_start) / pd.Timedelta(days=1)
        cal_days = min(float(self.calibration_days), span_days * 0.3)
        folds = max(1, min(self.calibration_folds, int(span_days * 0.5 // cal_days)))
        k_full = self._csi_grid(history)
        hs, kh, ko, kp, sc = [], [], [], [], []
        steps = np.arange(DEFAULT_HORIZON_STEPS)
        step = pd.Timedelta(hours=self.calibration_origin_step_h)
        for fold in range(folds):
            block_end = self.train_end - pd.Timedelta(days=cal_days * fold)
            cal_start = (block_end - pd.Timedelta(days=cal_days)).floor(STEP)
            self.model.fit(self._csi_grid(history[history.index < cal_start]), self.ctx, self.weather)
            origin = cal_start
            while origin < block_end:
                k_hist = k_full[k_full.index < origin]
                hs.append(steps * 15.0)
                kh.append(self.model.predict_csi(k_hist, origin, steps, self.ctx, self.weather))
                ko.append(k_full.reindex(origin + steps * STEP).to_numpy())
                kp.append(self.model.reference_csi(k_hist, origin, steps, self.ctx))
                sc.append(np.full(len(steps), self._band_scale(k_hist)))
                origin += step
        self.calibration_folds_used = folds
        h_all, kh_all, ko_all, kp_all, sc_all = (np.concatenate(a) for a in (hs, kh, ko, kp, sc))
        if self.model.blends_persistence:
            self.blend_weights = fit_blend_weights(h_all, kh_all, kp_all, ko_all)
            kh_all = self._blend(h_all, kh_all, kp_all)
        self.calibrator = ResidualCalibrator(margin=self.band_margin).fit(h_all, kh_all, ko_all, sc_all)
        self.model.fit(k_full, self.ctx, self.weather)
        return self

    def _band_scale(self, k_hist: pd.Series) -> float:
        """Scale of the conformity score at an issue time (1 unless ``scaled_bands``)."""
        return regime_variability(k_hist.to_numpy()) if self.scaled_bands else 1.0

    def _blend(self, horizon_min: np.ndarray, k_model: np.ndarray, k_persist: np.ndarray) -> np.ndarray:
        w = self.blend_weights[ResidualCalibrator.cells(horizon_min, k_model)[0]]
        return np.asarray(w * k_persist + (1.0 - w) * k_model)

    def predict_quantiles(self, history: pd.Series, issue_time: pd.Timestamp | str,
                          horizon_steps: int = DEFAULT_HORIZON_STEPS) -> pd.DataFrame:
        """P10/P50/P90 (kW) for the ``horizon_steps`` 15-min intervals starting at ``issue_time``.

        Only values of ``history`` labelled before ``issue_time`` are used (they are complete at
        the issue time). Returns columns ``target_ts, horizon_min, p10_kw, p50_kw, p90_kw``;
        night intervals are 0, all values within [0, capacity] and ``p10 ≤ p50 ≤ p90``.
        """
        issue = pd.Timestamp(issue_time)
        if issue.tzinfo is None:
            raise ForecastInputError("issue_time must be timezone-aware")
        issue = issue.tz_convert("UTC")
        if issue != issue.floor(STEP):
            raise ForecastInputError(f"issue_time must be on the 15-minute grid, got {issue.isoformat()}")
        available = truncate_history(check_power_series(history), issue)
        lookback = issue - pd.Timedelta(days=HISTORY_LOOKBACK_DAYS)
        available = available[available.index >= lookback]
        if available.empty:
            available = pd.Series([np.nan], index=pd.DatetimeIndex([issue - STEP]))
        grid = regular_grid(available, issue)
        if grid.index[0] > lookback:  # pad so that lags never depend on how much history was passed
            pad = pd.date_range(lookback, grid.index[0] - STEP, freq=STEP, tz="UTC")
            grid = pd.concat([pd.Series(np.nan, index=pad), grid])
        k = self.ctx.csi(grid)
        steps = np.arange(horizon_steps)
        k_hat = self.model.predict_csi(k, issue, steps, self.ctx, self.weather)
        if self.model.blends_persistence:
            k_hat = self._blend(steps * 15.0, k_hat, self.model.reference_csi(k, issue, steps, self.ctx))
        k_hat = np.clip(k_hat, 0.0, CSI_MAX)
        offsets = self.calibrator.offsets(steps * 15.0, k_hat, self._band_scale(k))
        if not self.median_shift:
            offsets[:, 1] = 0.0  # P50 = the model's own forecast; only the band comes from residuals
        k_q = np.clip(k_hat[:, None] + offsets, 0.0, None)
        targets = pd.DatetimeIndex(issue + steps * STEP)
        power = np.column_stack([self.ctx.to_power(k_q[:, i], targets) for i in range(3)])
        power = np.sort(power, axis=1)
        return pd.DataFrame({
            "target_ts": targets,
            "horizon_min": (steps * 15).astype(int),
            "p10_kw": power[:, 0],
            "p50_kw": power[:, 1],
            "p90_kw": power[:, 2],
        })

    def describe(self) -> dict[str, Any]:
        """Parameters for the registry."""
        return {
            "model": self.model.params(),
            "clearsky_scale": self.ctx.clearsky_scale,
            "capacity_kw": self.ctx.capacity_kw,
            "calibration_days": self.calibration_days,
            "calibration_samples": self.calibrator.n_samples,
            "reference_blend_weights": [round(float(w), 4) for w in self.blend_weights],
            "weather_provider": type(self.weather).__name__ if self.weather else None,
        }
