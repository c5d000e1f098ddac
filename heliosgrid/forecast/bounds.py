"""How far a history-only forecast can get below the best simple reference in each horizon bucket
(the issue-15 "≥ 10 % better" target), measured as ADR 0023 did for the day-ahead bucket.

:func:`hindsight_bounds` fits, *in hindsight on the backtest's own test pairs* (so optimistic: the
weights see the answers), the best linear combination in power space of every history-only signal
the candidates use, per bucket::

    P̂ = P_cs × (a + b·k_last + c·k_1h + d·k_day + e·k_clim + f·k_ref)

with ``k_last`` the last clear-sky index before the issue, ``k_1h`` smart persistence (mean of the last
hour), ``k_day`` the mean index of the last 24 h, ``k_clim`` the 14-day slot climatology and ``k_ref``
the best reference's own forecast index. If even this in-sample fit is less than 10 % better than the
best reference, no history-only linear model reaches the target on that series and bucket; the
remaining error is weather the history does not contain (a weather forecast is needed, ADR 0023).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.backtest import BacktestResult
from heliosgrid.forecast.features import persistence_csi, slot_climatology
from heliosgrid.forecast.metrics import HORIZON_BUCKETS, point_column
from heliosgrid.forecast.solar import STEPS_PER_DAY, ForecastInputError, regular_grid

TARGET_GAIN = 0.10


def _signals(k: np.ndarray, pos: int, steps: np.ndarray) -> np.ndarray:
    """History-only CSI signals at grid position ``pos`` for ``steps`` ahead (n × 4)."""
    last = k[max(0, pos - 12) : pos]
    valid = last[~np.isnan(last)]
    k_last = float(valid[-1]) if valid.size else np.nan
    day = k[max(0, pos - STEPS_PER_DAY) : pos]
    k_day = float(np.nanmean(day)) if np.isfinite(day).any() else np.nan
    clim = slot_climatology(k, pos, steps, 14)
    n = len(steps)
    return np.column_stack([np.full(n, k_last), np.full(n, persistence_csi(k, pos)), np.full(n, k_day), clim])


def hindsight_bounds(result: BacktestResult, series: pd.Series) -> dict[str, Any]:
    """Per bucket: best reference nRMSE, champion nRMSE, the hindsight linear bound and its gain (see module)."""
    if "persistence" not in result.forecasters or result.reference_comparison == {}:
        raise ForecastInputError("the backtest has no persistence model or no reference comparison")
    ctx = result.forecasters["persistence"].ctx
    k_series = ctx.csi(regular_grid(series, result.test_end))
    k = k_series.to_numpy()
    f = result.frame
    cap = result.capacity_kw
    f = f[f["actual_kw"].notna() & (f["clearsky_kw"] > 0)]
    out: dict[str, Any] = {}
    for b, cmp in result.reference_comparison.items():
        lo, hi = HORIZON_BUCKETS[b]
        ref = f[(f["model"] == cmp["best_reference"]) & (f["horizon_min"] >= lo) & (f["horizon_min"] < hi)]
        if len(ref) < 50:
            continue
        rows = []
        for issued, part in ref.groupby("issued_at", sort=True):
            pos = int(np.searchsorted(k_series.index.asi8, pd.Timestamp(issued).value, side="left"))
            rows.append(_signals(k, pos, (part["horizon_min"].to_numpy() // 15).astype(int)))
        x = np.vstack(rows)
        ref = ref.sort_values("issued_at", kind="stable")
        cs = ref["clearsky_kw"].to_numpy()
        k_ref = ref[point_column(ref)].to_numpy() / cs
        design = np.column_stack([np.ones(len(ref)), np.nan_to_num(x, nan=np.nanmean(k)), k_ref]) * cs[:, None]
        y = ref["actual_kw"].to_numpy()
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        p_hat = np.clip(design @ coef, 0.0, cap)
        bound = float(np.sqrt(np.mean((p_hat - y) ** 2)) / cap)
        ref_nrmse = float(np.sqrt(np.mean((ref[point_column(ref)].to_numpy() - y) ** 2)) / cap)
        out[b] = {"best_reference": cmp["best_reference"], "reference_nrmse": round(ref_nrmse, 4),
                  "champion_nrmse": round(float(cmp["champion_nrmse"]), 4),
                  "hindsight_linear_nrmse": round(bound, 4), "hindsight_gain": round(1.0 - bound / ref_nrmse, 4),
                  "target_reachable_history_only": bool(1.0 - bound / ref_nrmse >= TARGET_GAIN), "n": len(ref)}
    return out


__all__ = ["TARGET_GAIN", "hindsight_bounds"]
