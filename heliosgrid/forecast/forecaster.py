"""The :class:`Forecaster`: a model plus calibration and the site's solar context (the unit that is
trained and stored). It enforces "available at" semantics structurally: ``predict_quantiles`` drops
every observation labelled at or after the issue time before any model sees the history.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.calibration import (
    BAND_MARGIN,
    CAL_HORIZON_EDGES_MIN,
    ResidualCalibrator,
    blend_weight,
    fit_blend_weights,
    regime_variability,
)
from heliosgrid.forecast.features import DEFAULT_HORIZON_STEPS, HISTORY_LOOKBACK_DAYS, climatology_band
from heliosgrid.forecast.models.base import ForecastModel
from heliosgrid.forecast.solar import CSI_MAX, STEP, STEPS_PER_DAY, ForecastInputError, SolarContext, regular_grid
from heliosgrid.forecast.weather import WeatherProvider


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
                 calibration_folds: int = 1, scaled_bands: bool = True, band_margin: float = BAND_MARGIN,
                 calibration_anchor: pd.Timestamp | None = None) -> None:
        #: Hold-out issue times fall on ``anchor + n × calibration_origin_step_h`` (the backtest's test origins),
        #: so selection and calibration see the same times of day as the forecasts they choose for.
        self.calibration_anchor = calibration_anchor
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
        #: Hold-out forecasts of the last fit (issued_at ns, horizon_min, k_p50, k_obs, scale, clim_lo, clim_hi, clim_mid
        #: = climatological median CSI); not pickled.
        self.holdout: pd.DataFrame | None = None

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
        h_all, kh_all, ko_all, kp_all, sc_all, org_all, lo_all, hi_all, mid_all = self._holdout_forecasts(
            history, k_full, folds, cal_days)
        self.calibration_folds_used = folds
        if self.model.blends_persistence:
            self.blend_weights = fit_blend_weights(h_all, kh_all, kp_all, ko_all)
            kh_all = self._blend(h_all, kh_all, kp_all)
        self.calibrator = ResidualCalibrator(margin=self.band_margin).fit(h_all, kh_all, ko_all, sc_all)
        k_p50 = kh_all + (self.calibrator.offsets(h_all, kh_all)[:, 1] if self.median_shift else 0.0)
        self.holdout = pd.DataFrame({"issued_at": org_all, "horizon_min": h_all.astype(int),
                                     "k_p50": np.clip(k_p50, 0.0, CSI_MAX), "k_obs": ko_all, "scale": sc_all,
                                     "clim_lo": lo_all, "clim_hi": hi_all, "clim_mid": mid_all})
        self.model.fit(k_full, self.ctx, self.weather)
        return self

    def refresh(self, history: pd.Series) -> Forecaster:
        """Refit only the model's parameters on ``history`` (e.g. the whole window after a backtest),
        keeping the clear-sky scale, the calibration and the hold-out of the last :meth:`fit`: the
        production refit without a second rolling-origin hold-out (half the training time)."""
        history = check_power_series(history).dropna()
        if len(history) < 4 * STEPS_PER_DAY:
            raise ForecastInputError(f"need at least 4 days of 15-min history to train, got {len(history)} intervals")
        self.train_end = history.index[-1] + STEP
        self.model.fit(self._csi_grid(history), self.ctx, self.weather)
        return self

    def _holdout_forecasts(self, history: pd.Series, k_full: pd.Series, folds: int,
                           cal_days: float) -> tuple[np.ndarray, ...]:
        """Forecasts over the hold-out blocks, each by the model fitted before its block: horizon (min),
        predicted CSI, observed CSI, reference CSI, band scale, issue time and the climatological lower/upper
        half-widths and median CSI per target."""
        hs, kh, ko, kp, sc, org, c_lo, c_hi, c_mid = [], [], [], [], [], [], [], [], []
        steps = np.arange(DEFAULT_HORIZON_STEPS)
        step = pd.Timedelta(hours=self.calibration_origin_step_h)
        assert self.train_end is not None
        for fold in range(folds):
            block_end = self.train_end - pd.Timedelta(days=cal_days * fold)
            cal_start = (block_end - pd.Timedelta(days=cal_days)).floor(STEP)
            if self.calibration_anchor is not None:  # issue times on the same clock phase as the anchor's
                behind = (self.calibration_anchor - cal_start) % step
                cal_start += behind
            self.model.fit(self._csi_grid(history[history.index < cal_start]), self.ctx, self.weather)
            origin = cal_start
            while origin < block_end:
                k_hist = k_full[k_full.index < origin]
                hs.append(steps * 15.0)
                kh.append(self.model.predict_csi(k_hist, origin, steps, self.ctx, self.weather))
                ko.append(k_full.reindex(origin + steps * STEP).to_numpy())
                kp.append(self.model.reference_csi(k_hist, origin, steps, self.ctx))
                sc.append(np.full(len(steps), self._band_scale(k_hist)))
                org.append(np.full(len(steps), origin.value, dtype=np.int64))
                lo, hi, mid = climatology_band(k_hist.to_numpy(), steps)
                c_lo.append(lo)
                c_hi.append(hi)
                c_mid.append(mid)
                origin += step
        return tuple(np.concatenate(a) for a in (hs, kh, ko, kp, sc, org, c_lo, c_hi, c_mid))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["holdout"] = None  # hold-out forecasts are for selection at training time, not for the artefact
        return state

    def _band_scale(self, k_hist: pd.Series) -> float:
        """Scale of the conformity score at an issue time (1 unless ``scaled_bands``)."""
        return regime_variability(k_hist.to_numpy()) if self.scaled_bands else 1.0

    def _blend(self, horizon_min: np.ndarray, k_model: np.ndarray, k_persist: np.ndarray) -> np.ndarray:
        w = blend_weight(self.blend_weights, horizon_min)
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
