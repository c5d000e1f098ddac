"""Forecast verification metrics (kW in, kW or dimensionless out).

Definitions (over the evaluated samples ``i`` with actual ``y_i`` and forecast quantiles):

* ``mae_kw = mean |ŷ_i − y_i|``; ``rmse_kw = sqrt(mean (ŷ_i − y_i)²)``; ``bias_kw = mean (ŷ_i − y_i)`` with ``ŷ``
  the point forecast (column ``point_kw``, the expected value; the P50 where a frame has no such column —
  since ADR 0580 the issued P50 is a median, which squared error does not reward)
* ``nrmse = rmse_kw / capacity_kw``, ``nmae = mae_kw / capacity_kw`` (fractions, not %)
* ``skill = 1 − rmse / rmse_persistence`` on the same samples (> 0: better than smart persistence)
* ``pinball_kw``: mean over q ∈ {0.1, 0.5, 0.9} of ``mean max(q (y − P_q), (q − 1)(y − P_q))``
* ``coverage_p10_p90``: share of samples with ``P10 ≤ y ≤ P90`` (target 0.8)
* ``coverage_ci90_lo`` / ``coverage_ci90_hi``: the 5th and 95th percentiles of that share when the
  target days are resampled with replacement (:func:`coverage_interval`): the sampling error of a test
  of a few weeks, whose errors come in weather days, not in independent samples

Only **daylight** samples (clear-sky power > 0) with a measured actual are scored: night
intervals are trivially right (0 kW) and would inflate every score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Horizon buckets reported by backtests: name → [start, end) in minutes after the issue time.
HORIZON_BUCKETS: dict[str, tuple[int, int]] = {
    "0-1h": (0, 60),
    "1-6h": (60, 360),
    "6-24h": (360, 1440),
    "24-48h": (1440, 2880),
}
#: The buckets' edges in minutes, in order: each bucket's start, then the last one's end (the hand-over points).
BUCKET_EDGES_MIN: tuple[int, ...] = (*(lo for lo, _ in HORIZON_BUCKETS.values()), list(HORIZON_BUCKETS.values())[-1][1])
#: The bucket called "day-ahead" in targets and champion selection.
DAY_AHEAD_BUCKET = "24-48h"


def pinball_loss(y: np.ndarray, q_pred: np.ndarray, q: float) -> float:
    """Mean pinball (quantile) loss of predictions ``q_pred`` of quantile ``q`` for actuals ``y``."""
    diff = np.asarray(y, dtype=float) - np.asarray(q_pred, dtype=float)
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))


COVERAGE_BOOTSTRAP_DRAWS = 1000


def coverage_interval(covered: np.ndarray, day: np.ndarray, draws: int = COVERAGE_BOOTSTRAP_DRAWS) -> tuple[float, float]:
    """90 % interval (5th, 95th percentile) of the coverage share ``mean(covered)`` when whole days are
    resampled with replacement (``day``: any label per sample, e.g. the target's UTC date; a fixed seed,
    so a backtest reports the same interval every time). Errors of one weather day move together, so a
    21-day test carries a sampling error of several points; ``(nan, nan)`` with fewer than 2 days."""
    covered = np.asarray(covered, dtype=float)
    labels, inverse = np.unique(np.asarray(day), return_inverse=True)
    if covered.size == 0 or len(labels) < 2:
        return math.nan, math.nan
    hits = np.bincount(inverse, weights=covered)
    count = np.bincount(inverse).astype(float)
    pick = np.random.default_rng(0).integers(0, len(labels), size=(draws, len(labels)))
    share = hits[pick].sum(axis=1) / count[pick].sum(axis=1)
    lo, hi = np.quantile(share, [0.05, 0.95])
    return float(lo), float(hi)


def point_metrics(y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, capacity_kw: float,
                  point: np.ndarray | None = None, day: np.ndarray | None = None) -> dict[str, float]:
    """MAE, RMSE, bias (kW) of ``point`` (default the P50), nMAE, nRMSE (fraction of capacity), pinball of
    P10/P50/P90 (kW), P10–P90 coverage and, given each sample's ``day``, its 90 % interval
    (:func:`coverage_interval`)."""
    y = np.asarray(y, dtype=float)
    n = int(y.size)
    if n == 0:
        return {"n": 0, "mae_kw": math.nan, "rmse_kw": math.nan, "bias_kw": math.nan, "nmae": math.nan,
                "nrmse": math.nan, "pinball_kw": math.nan, "coverage_p10_p90": math.nan}
    err = np.asarray(p50 if point is None else point, dtype=float) - y
    mae = float(np.mean(np.abs(err)))
    rmse = float(np.sqrt(np.mean(err**2)))
    pinball = float(np.mean([pinball_loss(y, p, q) for p, q in ((p10, 0.1), (p50, 0.5), (p90, 0.9))]))
    covered = (np.asarray(p10) <= y) & (y <= np.asarray(p90))
    out = {"n": n, "mae_kw": mae, "rmse_kw": rmse, "bias_kw": float(np.mean(err)), "nmae": mae / capacity_kw,
           "nrmse": rmse / capacity_kw, "pinball_kw": pinball, "coverage_p10_p90": float(np.mean(covered))}
    if day is not None:
        out["coverage_ci90_lo"], out["coverage_ci90_hi"] = coverage_interval(covered, day)
    return out


def point_column(frame: pd.DataFrame) -> str:
    """The column of a forecast frame that holds the point forecast: ``point_kw`` if present, else ``p50_kw``."""
    return "point_kw" if "point_kw" in frame.columns else "p50_kw"


def skill_score(rmse: float, rmse_reference: float) -> float:
    """``1 − rmse / rmse_reference`` (NaN when the reference is 0 or NaN)."""
    if not rmse_reference or math.isnan(rmse_reference):
        return math.nan
    return 1.0 - rmse / rmse_reference


def bucket_of(horizon_min: np.ndarray) -> np.ndarray:
    """Bucket name for each horizon (minutes); '' beyond 48 h."""
    out = np.full(len(horizon_min), "", dtype=object)
    for name, (lo, hi) in HORIZON_BUCKETS.items():
        out[(horizon_min >= lo) & (horizon_min < hi)] = name
    return out


def score_backtest(frame: pd.DataFrame, capacity_kw: float, reference: str = "persistence",
                   models: Sequence[str] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics per model and horizon bucket (plus ``all``) from a long backtest frame.

    ``frame`` columns: ``model, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw,
    actual_kw, clearsky_kw`` and optionally ``point_kw``. Samples are restricted to daylight with an actual, and to the
    (issued_at, target_ts) pairs every model forecast, so all models are scored on the same set.
    """
    scored = frame[(frame["clearsky_kw"] > 0) & frame["actual_kw"].notna()].copy()
    names = list(models) if models is not None else sorted(scored["model"].unique())
    key = ["issued_at", "target_ts"]
    common = None
    for name in names:
        keys = scored.loc[scored["model"] == name, key].drop_duplicates()
        common = keys if common is None else common.merge(keys, on=key)
    if common is None or common.empty:
        return {name: {} for name in names}
    scored = scored.merge(common, on=key)
    scored["bucket"] = bucket_of(scored["horizon_min"].to_numpy())
    scored["day"] = pd.DatetimeIndex(scored["target_ts"]).floor("1D").asi8
    result: dict[str, dict[str, dict[str, float]]] = {}
    buckets = [*HORIZON_BUCKETS, "all"]
    for name in names:
        m = scored[scored["model"] == name]
        result[name] = {}
        for b in buckets:
            sel = m if b == "all" else m[m["bucket"] == b]
            result[name][b] = point_metrics(sel["actual_kw"].to_numpy(), sel["p10_kw"].to_numpy(),
                                            sel["p50_kw"].to_numpy(), sel["p90_kw"].to_numpy(), capacity_kw,
                                            sel[point_column(sel)].to_numpy(), sel["day"].to_numpy())
    if reference in result:
        for name in names:
            for b in buckets:
                result[name][b]["skill"] = skill_score(result[name][b]["rmse_kw"], result[reference][b]["rmse_kw"])
    return result


def choose_champion(metrics: dict[str, dict[str, dict[str, float]]]) -> str | None:
    """The model with the lowest day-ahead nRMSE (ties: higher mean skill); None if nothing scored."""
    best: tuple[float, float, str] | None = None
    for name, buckets in metrics.items():
        da = buckets.get(DAY_AHEAD_BUCKET, {}).get("nrmse", math.nan)
        if da is None or math.isnan(da):
            continue
        skills = [v.get("skill", math.nan) for k, v in buckets.items() if k in HORIZON_BUCKETS]
        mean_skill = float(np.nanmean(skills)) if any(not math.isnan(s) for s in skills) else 0.0
        cand = (round(da, 6), -mean_skill, name)
        if best is None or cand < best:
            best = cand
    return best[2] if best else None
