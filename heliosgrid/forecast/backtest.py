"""Rolling-origin backtests with "available at" semantics, plus the table and the plot.

Procedure: the models are fitted (with their calibration) on the history before ``test_start``
only; then forecasts are issued every ``origin_step_h`` hours from ``test_start`` on, each for the
next 48 h. At each origin the forecaster receives **the history truncated at that origin** (the
caller slices it, and :meth:`Forecaster.predict_quantiles` slices again), so no forecast can use a
value labelled at or after its issue time. Scores are computed by :mod:`heliosgrid.forecast.metrics`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.bandsource import apply_source_bands, start_sources
from heliosgrid.forecast.ensemble import EnsembleForecaster, label
from heliosgrid.forecast.evaluation import (
    climatology_quantiles,
    holdout_frame,
    reference_comparison,
    reselected_ensemble_frame,
    sharpness_metrics,
)
from heliosgrid.forecast.features import DEFAULT_HORIZON_STEPS
from heliosgrid.forecast.forecaster import Forecaster, check_power_series, truncate_history
from heliosgrid.forecast.hygiene import HygieneReport
from heliosgrid.forecast.metrics import DAY_AHEAD_BUCKET, HORIZON_BUCKETS, point_column, score_backtest
from heliosgrid.forecast.models import make_model
from heliosgrid.forecast.orientation import infer_orientation
from heliosgrid.forecast.plots import plot_backtest
from heliosgrid.forecast.solar import CSI_MAX, STEP, ForecastInputError, SolarContext, regular_grid
from heliosgrid.forecast.weather import WeatherProvider
from heliosgrid.physics.fleet import DeviceSpec, SiteSpec

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("persistence", "climatology", "prophet", "arima", "gbm")


def orientation_json(device: DeviceSpec) -> dict[str, Any]:
    """The array a backtest modelled: tilt and azimuth (degrees; a tracker's are its axis's), ``tracking``
    (``fixed`` or ``single_axis``) and, for a tracker, its rotation limit (degrees either side of flat)."""
    out: dict[str, Any] = {"surface_tilt_deg": device.surface_tilt_deg, "surface_azimuth_deg": device.surface_azimuth_deg,
                           "tracking": device.tracking}
    if device.tracking == "single_axis":
        out["max_angle_deg"] = device.max_angle_deg
    return out


def _interval(m: dict[str, float]) -> str:
    """A cell's coverage interval over its test days (ADR 0670) as ``lo–hi``; blank where none."""
    lo, hi = m.get("coverage_ci90_lo", float("nan")), m.get("coverage_ci90_hi", float("nan"))
    return "" if np.isnan(lo) or np.isnan(hi) else f"{lo:.2f}–{hi:.2f}"


@dataclass
class BacktestResult:
    """Forecasts of every model at every origin, their scores and the champion."""

    frame: pd.DataFrame
    metrics: dict[str, dict[str, dict[str, float]]]
    champion: str | None
    capacity_kw: float
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    n_origins: int
    timings_s: dict[str, float] = field(default_factory=dict)
    forecasters: dict[str, Forecaster] = field(default_factory=dict)
    site: SiteSpec | None = None
    champion_by_bucket: dict[str, str] = field(default_factory=dict)
    reference_comparison: dict[str, Any] = field(default_factory=dict)
    hygiene: dict[str, Any] | None = None
    ensemble: EnsembleForecaster | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (metrics rounded, NaN as null)."""
        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return None if np.isnan(v) else round(v, 5)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v
        return {
            "champion": self.champion,
            "day_ahead_bucket": DAY_AHEAD_BUCKET,
            "horizon_buckets_min": {k: list(v) for k, v in HORIZON_BUCKETS.items()},
            "capacity_kw": round(self.capacity_kw, 4),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
            "n_origins": self.n_origins,
            "orientation": (orientation_json(self.site.inverters[0])
                            if self.site is not None and self.site.inverters else None),
            "models": clean(self.metrics),
            "champion_by_bucket": self.champion_by_bucket,
            "champion_vs_best_reference": clean(self.reference_comparison),
            "selection": clean(self.ensemble.evidence) if self.ensemble is not None else None,
            "hygiene": self.hygiene,
            "timings_s": clean(self.timings_s),
        }

    def table(self) -> str:
        """A plain-text table: one row per model and horizon bucket (coverage with its 90 % interval over the
        test days)."""
        head = (f"{'model':<12} {'bucket':<7} {'n':>6} {'MAE kW':>9} {'RMSE kW':>9} {'nRMSE':>7} {'skill':>7} "
                f"{'pinball':>8} {'cov80':>6} {'90% int.':>11} {'width':>6}")
        lines = [head, "-" * len(head)]
        for name, buckets in self.metrics.items():
            for b, m in buckets.items():
                mark = f" * {self.champion_by_bucket.get(b, '')}" if name == self.champion else ""
                lines.append(
                    f"{name:<12} {b:<7} {m['n']:>6} {m['mae_kw']:>9.3f} {m['rmse_kw']:>9.3f} {m['nrmse']:>7.3f} "
                    f"{m.get('skill', float('nan')):>7.3f} {m['pinball_kw']:>8.3f} {m['coverage_p10_p90']:>6.3f} "
                    f"{_interval(m):>11} {m.get('interval_width_rel', float('nan')):>6.3f}{mark}"
                )
        lines.append(f"champion: {self.champion} (per horizon bucket, chosen on the training hold-out)")
        for w in (self.hygiene or {}).get("warnings", []):
            lines.append(f"warning: {w}")
        return "\n".join(lines)


def run_backtest(
    series: pd.Series,
    site: SiteSpec,
    capacity_kw: float,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    test_days: float = 21.0,
    origin_step_h: float = 6.0,
    horizon_steps: int = DEFAULT_HORIZON_STEPS,
    weather: WeatherProvider | None = None,
    calibration_days: int = 21,
    calibration_origin_step_h: float | None = None,
    fit_orientation: bool = False,
    hygiene: HygieneReport | None = None,
    online_bands: bool = True,
) -> BacktestResult:
    """Fit every model on the history before the last ``test_days`` days, then issue forecasts
    every ``origin_step_h`` hours over those days and score them against the actuals.

    Besides the candidates, the per-horizon champion (:mod:`heliosgrid.forecast.ensemble`, chosen on
    the training hold-out) is scored as ``per_horizon`` and named champion. With ``online_bands`` every
    model's P10/P90 is the online conformal band (:mod:`heliosgrid.forecast.conformal`).
    ``fit_orientation`` infers the array tilt/azimuth from the training part. ``hygiene`` (the report of
    :func:`heliosgrid.forecast.hygiene.clean_power_series`) is attached to the result; forecasts are
    clipped at its effective capacity when the plant runs above the given one.
    """
    series = check_power_series(series)
    train, test_start, end = _split(series, test_days)
    _check_producing_history(train, capacity_kw, test_start)
    if fit_orientation:
        site = infer_orientation(train, site, capacity_kw)
    if "persistence" not in models:
        models = ["persistence", *models]
    origins = pd.date_range(test_start, end - STEP, freq=pd.Timedelta(hours=origin_step_h), tz="UTC")
    clip_kw = max(capacity_kw, (hygiene.effective_capacity_kw or 0.0) if hygiene else 0.0)
    shared = SolarContext(site, clip_kw)  # one clear-sky cache for every model
    shared.table(pd.date_range(series.index[0], end + horizon_steps * STEP, freq=STEP, tz="UTC"))
    _check_test_window(series, shared, test_start, end, hygiene)
    timings: dict[str, float] = {}
    cal = {"calibration_days": calibration_days, "calibration_origin_step_h": calibration_origin_step_h or origin_step_h,
           "calibration_anchor": test_start}
    frames, forecasters = _fit_and_forecast(series, train, origins, models, shared, horizon_steps, weather, cal, timings)
    t0 = time.perf_counter()
    frame = _assemble_frame(frames, series, shared, end)
    ens = EnsembleForecaster.from_members(forecasters)
    frame = _champion_and_bands(frame, forecasters, ens, series, end, clip_kw, online_bands)
    metrics = _metrics(frame, capacity_kw, [*models, ens.name])
    timings["selection_and_bands_s"] = time.perf_counter() - t0
    return BacktestResult(frame, metrics, ens.name, capacity_kw, test_start, end, len(origins), timings,
                          forecasters, site, {b: label(w) for b, w in ens.weights.items()},
                          reference_comparison(metrics, ens.name), hygiene.as_dict() if hygiene else None, ens)


def _split(series: pd.Series, test_days: float) -> tuple[pd.Series, pd.Timestamp, pd.Timestamp]:
    """(training part without gaps, test start, end of the data) for the last ``test_days`` days;
    :class:`ForecastInputError` when the series is empty or has < 7 days' worth before the test."""
    if series.dropna().empty:
        raise ForecastInputError("the power series has no values")
    end = series.index[-1] + STEP
    test_start = (end - pd.Timedelta(days=test_days)).floor("h")
    train = series[series.index < test_start].dropna()
    if len(train) < 7 * 96 * 0.3:
        raise ForecastInputError(
            f"not enough history before the test window ({len(train)} intervals before {test_start.isoformat()}); "
            f"need at least 7 days of data plus the test window ({test_days:g} days; --test-days shortens it)"
        )
    return train, test_start, end


#: Days before the test window the models are fitted on (Prophet's ``fit_days``), and how many of them must have
#: output: a plant that was off, dead or not reporting then leaves nothing to learn from.
FIT_WINDOW_DAYS = 30
MIN_PRODUCING_DAYS = 7
#: A producing day has at least 2 h (8 intervals) above this share of the capacity.
PRODUCING_SHARE = 0.01


def _check_producing_history(train: pd.Series, capacity_kw: float, test_start: pd.Timestamp) -> None:
    """:class:`ForecastInputError` naming the cause when fewer than :data:`MIN_PRODUCING_DAYS` of the last
    :data:`FIT_WINDOW_DAYS` days before ``test_start`` have output (instead of a model's own complaint)."""
    since = test_start - pd.Timedelta(days=FIT_WINDOW_DAYS)
    recent = train[train.index >= since]
    on = recent[recent > PRODUCING_SHARE * capacity_kw]
    producing = int((on.groupby(on.index.floor("D")).size() >= 8).sum())
    if producing < MIN_PRODUCING_DAYS:
        raise ForecastInputError(
            f"only {producing} of the {FIT_WINDOW_DAYS} days before the test window ({since.date()} to "
            f"{test_start.date()}) have output (2 h or more above {PRODUCING_SHARE:.0%} of the {capacity_kw:g} kW "
            f"capacity); the models need at least {MIN_PRODUCING_DAYS}: the plant was off, dead or not reporting "
            "then (the warnings above list its dead days); check the power column and unit, or end the file "
            "where the plant has a month of output"
        )


def _metrics(frame: pd.DataFrame, capacity_kw: float, names: list[str]) -> dict[str, Any]:
    """Per model and horizon bucket: the accuracy scores with the band's sharpness merged in."""
    metrics = score_backtest(frame, capacity_kw, models=names)
    for name, buckets in sharpness_metrics(frame, capacity_kw).items():
        for b, extra in buckets.items():
            metrics.get(name, {}).get(b, {}).update(extra)
    return metrics


MIN_TEST_DAYLIGHT_COVERAGE = 0.5
"""Below this share of the test window's daylight intervals with data the scores rest on little: warned."""


def _check_test_window(series: pd.Series, ctx: SolarContext, start: pd.Timestamp, end: pd.Timestamp,
                       hygiene: HygieneReport | None) -> None:
    """Warn when the test window holds data for less than :data:`MIN_TEST_DAYLIGHT_COVERAGE` of its daylight."""
    grid = pd.date_range(start, end - STEP, freq=STEP, tz="UTC")
    day = ctx.daylight_mask(ctx.clearsky_kw(grid))
    if not day.any():
        return
    share = float(series.reindex(grid)[day].notna().mean())
    if share < MIN_TEST_DAYLIGHT_COVERAGE:
        msg = (f"the test window {start.date()}..{end.date()} has data for {share:.0%} of its daylight intervals: "
               "its scores rest on few targets (see n per bucket)")
        if hygiene is not None:
            hygiene.warn(msg)
        else:
            log.warning("%s", msg)


def _assemble_frame(frames: list[pd.DataFrame], series: pd.Series, shared: SolarContext, end: pd.Timestamp) -> pd.DataFrame:
    """All models' forecasts with the actual and clear-sky power of each target (targets before ``end``)."""
    frame = pd.concat(frames, ignore_index=True)
    targets = pd.DatetimeIndex(frame["target_ts"])
    frame["actual_kw"] = series.reindex(targets).to_numpy()
    uniq = targets.unique().sort_values()
    frame["clearsky_kw"] = pd.Series(shared.clearsky_kw(uniq), index=uniq).reindex(targets).to_numpy()
    return frame[frame["target_ts"] < end].reset_index(drop=True)


def _champion_and_bands(frame: pd.DataFrame, forecasters: dict[str, Forecaster], ens: EnsembleForecaster,
                        series: pd.Series, end: pd.Timestamp, clip_kw: float, online_bands: bool) -> pd.DataFrame:
    """Add the per-horizon champion's rows, the climatological quantiles and band scales, and (with
    ``online_bands``) replace every model's P10/P90 by its online conformal band with the band centre
    chosen per bucket (:mod:`heliosgrid.forecast.bandsource`); the champion keeps the final centre and
    offsets for production."""
    champ_rows, counts = reselected_ensemble_frame(frame, ens, forecasters)
    ens.evidence = {**ens.evidence, "choices_over_issue_times": counts}
    frame = pd.concat([frame, champ_rows], ignore_index=True)
    k = forecasters["persistence"].ctx.csi(regular_grid(series, end))
    frame = frame.merge(climatology_quantiles(frame, k), on=["issued_at", "target_ts"], how="left")
    if online_bands:
        owners: dict[str, Forecaster | EnsembleForecaster] = {**forecasters, ens.name: ens}
        parts = []
        for n, fc in owners.items():
            sources = start_sources(holdout_frame(fc), clip_kw)
            parts.append(apply_source_bands(frame[frame["model"] == n], sources, clip_kw))
            if n == ens.name:  # the production band starts where the backtest ended
                ens.band_centre = {b: src.choice() for b, src in sources.items()}
                ens.median_centre = {b: src.median_choice() for b, src in sources.items()}
                ens.bands = {b: src.bands[ens.band_centre[b]].offsets() for b, src in sources.items()}
        frame = pd.concat(parts, ignore_index=True)
    return frame


def _fit_and_forecast(series: pd.Series, train: pd.Series, origins: pd.DatetimeIndex, models: Sequence[str],
                      shared: SolarContext, horizon_steps: int, weather: WeatherProvider | None,
                      cal: dict[str, Any], timings: dict[str, float]) -> tuple[list[pd.DataFrame], dict[str, Forecaster]]:
    frames: list[pd.DataFrame] = []
    forecasters: dict[str, Forecaster] = {}
    for name in models:
        t0 = time.perf_counter()
        ctx = dataclasses.replace(shared)
        fc = Forecaster(make_model(name), ctx, weather=weather, **cal).fit(train)
        t1 = time.perf_counter()
        parts = []
        for origin in origins:
            available = truncate_history(series, origin)  # structural: nothing at/after the origin
            out = fc.predict_quantiles(available, origin, horizon_steps)
            out.insert(0, "issued_at", origin)
            parts.append(out)
        pred = pd.concat(parts, ignore_index=True)
        pred.insert(0, "model", name)
        frames.append(pred)
        forecasters[name] = fc
        timings[f"{name}_fit_s"] = t1 - t0
        timings[f"{name}_backtest_s"] = time.perf_counter() - t1
        log.info("backtest %s: fit %.1fs, %d origins %.1fs", name, t1 - t0, len(origins), time.perf_counter() - t1)
    return frames, forecasters


def _daily_mean_csi(bright: pd.DataFrame, tz: str) -> pd.Series:
    """Mean clear-sky index of every local day (from all measured bright intervals in the frame)."""
    obs = bright.drop_duplicates("target_ts")[["target_ts", "actual_kw", "clearsky_kw"]].copy()
    obs["k"] = (obs["actual_kw"] / obs["clearsky_kw"]).clip(0.0, CSI_MAX)
    obs["day"] = pd.DatetimeIndex(obs["target_ts"]).tz_convert(tz).normalize()
    return obs.groupby("day")["k"].mean()


def _hindsight_linear(daily: pd.Series, issue_day: pd.DatetimeIndex, ref: pd.DataFrame,
                      fallback_csi: float) -> tuple[np.ndarray, np.ndarray]:
    """k̂ = a + b·k̄(d−1) + c·k̄(d−2) fitted by least squares in power space on the test pairs (in hindsight)."""
    prev1 = daily.reindex(issue_day - pd.Timedelta(days=1)).to_numpy()
    prev2 = daily.reindex(issue_day - pd.Timedelta(days=2)).to_numpy()
    have = ~(np.isnan(prev1) | np.isnan(prev2))
    cs = ref["clearsky_kw"].to_numpy()
    # least squares in power space: minimise Σ (cs·(a + b·k1 + c·k2) − P)² over the test pairs
    design = np.column_stack([cs, cs * prev1, cs * prev2])[have]
    coef, *_ = np.linalg.lstsq(design, ref["actual_kw"].to_numpy()[have], rcond=None)
    k_lin = np.full(len(ref), fallback_csi)
    k_lin[have] = np.column_stack([np.ones(have.sum()), prev1[have], prev2[have]]) @ coef
    return k_lin, coef


def day_ahead_bounds(result: BacktestResult, reference: str = "prophet", min_clearsky_frac: float = 0.05) -> dict[str, Any]:
    """What a history-only model can reach day-ahead against ``reference`` (ADR 0023), on the
    day-ahead (issue, target) pairs of the backtest (daylight, measured); nRMSE of capacity with
    ``clip(k̂ × P_cs, 0, capacity)``. Bounds: ``oracle_daily_mean_csi`` (the observed daily-mean k of
    the target day: future data, a bound), ``oracle_daily_mean_with_reference_shape`` (the reference's
    shape rescaled to that mean), ``hindsight_constant_csi`` (the best constant k for the window) and
    ``hindsight_linear_from_past_days`` (k̂ = a + b·k̄(d−1) + c·k̄(d−2) fitted on the test window itself).
    Daily means use intervals with ``P_cs ≥ min_clearsky_frac × capacity``."""
    if result.site is None:
        raise ForecastInputError("the backtest result has no site (time zone) attached")
    lo, hi = HORIZON_BUCKETS[DAY_AHEAD_BUCKET]
    f = result.frame
    cap = result.capacity_kw
    ok = f["actual_kw"].notna() & (f["clearsky_kw"] > 0)
    da = f[ok & (f["horizon_min"] >= lo) & (f["horizon_min"] < hi)]
    ref = da[da["model"] == reference]
    if ref.empty:
        raise ForecastInputError(f"the backtest has no {reference!r} forecasts in the {DAY_AHEAD_BUCKET} bucket")
    tz = result.site.timezone
    daily = _daily_mean_csi(f[ok & (f["clearsky_kw"] >= min_clearsky_frac * cap)], tz)

    def nrmse(k_hat: np.ndarray, frame: pd.DataFrame) -> float:
        p = np.clip(k_hat * frame["clearsky_kw"].to_numpy(), 0.0, cap)
        return float(np.sqrt(np.mean((p - frame["actual_kw"].to_numpy()) ** 2)) / cap)

    ref_nrmse = float(np.sqrt(np.mean((ref[point_column(ref)] - ref["actual_kw"]) ** 2)) / cap)
    day = pd.DatetimeIndex(ref["target_ts"]).tz_convert(tz).normalize()
    issue_day = pd.DatetimeIndex(ref["issued_at"]).tz_convert(tz).normalize()
    k_obs = (ref["actual_kw"] / ref["clearsky_kw"]).clip(0.0, CSI_MAX).to_numpy()
    day_obs = np.nan_to_num(daily.reindex(day).to_numpy(), nan=float(daily.mean()))
    oracle = nrmse(day_obs, ref)
    k_ref = (ref[point_column(ref)] / ref["clearsky_kw"]).clip(0.0, CSI_MAX).to_numpy()
    bright = (ref["clearsky_kw"] >= min_clearsky_frac * cap).to_numpy()
    groups = pd.Series(np.where(bright, k_ref, np.nan)).groupby([ref["issued_at"].to_numpy(), day]).transform(
        "mean").to_numpy()
    factor = np.where(groups > 0, day_obs / np.where(groups > 0, groups, 1.0), 1.0)
    oracle_shape = nrmse(np.clip(k_ref * factor, 0.0, CSI_MAX), ref)
    best_const = float(np.sum(k_obs * ref["clearsky_kw"] ** 2) / np.sum(ref["clearsky_kw"] ** 2))
    const = nrmse(np.full(len(ref), best_const), ref)
    k_lin, coef = _hindsight_linear(daily, issue_day, ref, best_const)
    linear = nrmse(k_lin, ref)

    def entry(v: float) -> dict[str, float]:
        return {"nrmse": round(v, 4), "reduction_vs_reference": round(1.0 - v / ref_nrmse, 4)}

    champ = result.metrics.get(result.champion or "", {}).get(DAY_AHEAD_BUCKET, {}).get("nrmse", float("nan"))
    return {
        "reference": reference,
        "n": len(ref),
        "reference_nrmse": round(ref_nrmse, 4),
        "champion": result.champion,
        "champion_nrmse": round(float(champ), 4),
        "nrmse_needed_for_20pct": round(0.8 * ref_nrmse, 4),
        "oracle_daily_mean_csi": entry(oracle),
        "oracle_daily_mean_with_reference_shape": entry(oracle_shape),
        "hindsight_constant_csi": entry(const),
        "hindsight_linear_from_past_days": {**entry(linear), "coef": [round(float(c), 4) for c in coef]},
    }


__all__ = ["DEFAULT_MODELS", "BacktestResult", "day_ahead_bounds", "plot_backtest", "run_backtest"]
