"""Backtest post-processing: the per-horizon champion's forecasts, online conformal bands for every
model, climatological quantiles (the sharpness reference) and the per-bucket scores that use them.

All of it runs on the long backtest frame (``model, issued_at, target_ts, horizon_min, p10_kw,
p50_kw, p90_kw, actual_kw, clearsky_kw``) in issue-time order, and at each issue time uses only
actuals labelled before it (a forecast of target ``τ`` matures at ``τ + 15 min``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.calibration import regime_variability
from heliosgrid.forecast.ensemble import (
    ENSEMBLE_NAME,
    REFERENCES,
    EnsembleForecaster,
    combine_p50,
    holdout_power,
    holdout_wide,
    label,
    weights_from_wide,
)
from heliosgrid.forecast.features import (
    CLIM_QUANTILE_DAYS,
    CLIM_QUANTILE_HALF_WIDTH,
    halfwidths_from_quantiles,
    slot_quantiles,
)
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.metrics import DAY_AHEAD_BUCKET, HORIZON_BUCKETS, bucket_of, pinball_loss
from heliosgrid.forecast.solar import STEP


def issue_scales(k: pd.Series, origins: pd.DatetimeIndex) -> pd.Series:
    """Regime variability ``s`` (dimensionless) known at each issue time, from the CSI series ``k``."""
    values = k.to_numpy()
    pos = np.searchsorted(k.index.asi8, origins.asi8, side="left")
    return pd.Series([regime_variability(values[:p]) for p in pos], index=origins)


def climatology_quantiles(frame: pd.DataFrame, k: pd.Series) -> pd.DataFrame:
    """P10/P50/P90 (kW) of the climatological quantile forecast for the frame's (issued_at, target_ts):
    slot quantiles of the CSI over the last 14 days (± 30 min) before the issue, × clear-sky power;
    and the band scales ``scale_lo_kw``/``scale_hi_kw`` (their smoothed half-widths × P_cs, as
    :func:`heliosgrid.forecast.features.climatology_halfwidths`)."""
    pairs = frame[["issued_at", "target_ts", "horizon_min", "clearsky_kw"]].drop_duplicates(["issued_at", "target_ts"])
    values = k.to_numpy()
    out = []
    for issued, part in pairs.groupby("issued_at", sort=True):
        p = int(np.searchsorted(k.index.asi8, pd.Timestamp(issued).value, side="left"))
        steps = (part["horizon_min"].to_numpy() // 15).astype(int)
        order = np.argsort(steps)
        part, steps = part.iloc[order], steps[order]
        q = slot_quantiles(values[:p], p, steps, CLIM_QUANTILE_DAYS, CLIM_QUANTILE_HALF_WIDTH, (0.1, 0.5, 0.9))
        cs = part["clearsky_kw"].to_numpy()
        lo, hi = halfwidths_from_quantiles(q)
        frame_q = pd.DataFrame(np.nan_to_num(q) * cs[:, None], columns=["clim_p10_kw", "clim_p50_kw", "clim_p90_kw"],
                               index=part.index)
        out.append(frame_q.assign(scale_lo_kw=lo * cs, scale_hi_kw=hi * cs, issued_at=part["issued_at"],
                                  target_ts=part["target_ts"]))
    return pd.concat(out) if out else pd.DataFrame(columns=["issued_at", "target_ts"])


def ensemble_frame(frame: pd.DataFrame, ens: EnsembleForecaster) -> pd.DataFrame:
    """The per-horizon champion's rows built from its members' rows (same issue and target times)."""
    key = ["issued_at", "target_ts"]
    names = list(ens.members)
    base = frame[frame["model"] == names[0]].drop(columns=["model"]).reset_index(drop=True)
    p50 = {}
    for n in names:
        m = frame[frame["model"] == n][[*key, "p50_kw"]]
        p50[n] = base[key].merge(m, on=key, how="left")["p50_kw"].to_numpy()
    out = base.copy()
    out["p50_kw"] = combine_p50(p50, out["horizon_min"].to_numpy(), ens.weights)
    out.insert(0, "model", ens.name)
    return out


def reselected_ensemble_frame(frame: pd.DataFrame, ens: EnsembleForecaster, members: dict[str, Forecaster],
                              window_days: float = 21.0) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """The per-horizon champion's rows with its selection refreshed at every issue time, as a daily retrain
    re-selects in production: on the hold-out plus the test forecasts that matured before the issue time
    (``target + 15 min ≤ issue``), the last ``window_days`` of issue times, same rule as the training-time
    selection (:func:`heliosgrid.forecast.ensemble.weights_from_wide`). Also the count of each bucket's
    choices over the issue times."""
    hold, names = holdout_wide(members)
    scored = frame[frame["model"].isin(names) & (frame["clearsky_kw"] > 0) & frame["actual_kw"].notna()]
    test = scored.pivot_table(index=["issued_at", "target_ts", "horizon_min"], columns="model", values="p50_kw")
    test = test.reset_index().merge(scored.drop_duplicates(["issued_at", "target_ts"])[
        ["issued_at", "target_ts", "actual_kw"]], on=["issued_at", "target_ts"]).dropna(subset=names)
    test = test.assign(issued_at=pd.DatetimeIndex(test["issued_at"]).asi8, y_kw=test["actual_kw"],
                       bucket=bucket_of(test["horizon_min"].to_numpy()),
                       matured=(pd.DatetimeIndex(test["target_ts"]) + STEP).asi8)
    base = ensemble_frame(frame, ens)
    p50 = {n: base[["issued_at", "target_ts"]].merge(frame[frame["model"] == n][["issued_at", "target_ts", "p50_kw"]],
                                                        on=["issued_at", "target_ts"], how="left")["p50_kw"].to_numpy()
           for n in names}
    issued_ns = pd.DatetimeIndex(base["issued_at"]).asi8
    counts: dict[str, dict[str, int]] = {b: {} for b in HORIZON_BUCKETS}
    window_ns = int(window_days * 86400e9)
    for origin in np.unique(issued_ns):
        data = pd.concat([hold, test[test["matured"] <= origin]], ignore_index=True)
        weights, _ = weights_from_wide(data[data["issued_at"] >= origin - window_ns], names)
        rows = issued_ns == origin
        h = base.loc[rows, "horizon_min"].to_numpy()
        base.loc[rows, "p50_kw"] = combine_p50({n: v[rows] for n, v in p50.items()}, h, weights)
        for b, w in weights.items():
            counts[b][label(w)] = counts[b].get(label(w), 0) + 1
    return base, counts


def holdout_frame(fc: Forecaster | EnsembleForecaster) -> pd.DataFrame:
    """A forecaster's training hold-out in kW (bucket, y_kw, p50_kw, clim_p50_kw, scale_lo_kw, scale_hi_kw):
    the band sources' starting point (:func:`heliosgrid.forecast.bandsource.start_sources`)."""
    if isinstance(fc, EnsembleForecaster):
        frames = {n: holdout_power(m) for n, m in fc.members.items()}
        first = next(iter(frames.values())).copy()
        first["p50_kw"] = combine_p50({n: f["p50_kw"].to_numpy() for n, f in frames.items()},
                                      first["horizon_min"].to_numpy(), fc.weights)
        return first
    return holdout_power(fc)


def sharpness_metrics(frame: pd.DataFrame, capacity_kw: float) -> dict[str, dict[str, dict[str, float]]]:
    """Per model and bucket: ``interval_width_rel`` = mean (P90 − P10) / capacity, ``pinball_clim_kw`` and
    ``pinball_skill_vs_climatology`` = 1 − pinball / pinball of the climatological quantiles (same samples),
    ``p50_pinball_skill_vs_climatology``, the same for the P50 term alone, and ``band_pinball_skill_vs_climatology``
    for the band alone (the P10 and P90 terms: what the conformal band controls; the P50 is the point forecast)."""
    scored = frame[(frame["clearsky_kw"] > 0) & frame["actual_kw"].notna()].copy()
    scored["bucket"] = bucket_of(scored["horizon_min"].to_numpy())
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, m in scored.groupby("model"):
        out[str(name)] = {}
        for b in [*HORIZON_BUCKETS, "all"]:
            sel = m if b == "all" else m[m["bucket"] == b]
            if sel.empty:
                out[str(name)][b] = {"interval_width_rel": math.nan, "pinball_clim_kw": math.nan,
                                     "pinball_skill_vs_climatology": math.nan, "p50_pinball_skill_vs_climatology": math.nan,
                                     "band_pinball_skill_vs_climatology": math.nan}
                continue
            y = sel["actual_kw"].to_numpy()
            pin = _pinball(y, sel, "")
            pin_c = _pinball(y, sel, "clim_")
            med, med_c = (pinball_loss(y, sel[c].to_numpy(), 0.5) for c in ("p50_kw", "clim_p50_kw"))
            tails, tails_c = 3 * pin - med, 3 * pin_c - med_c  # P10 + P90 terms
            out[str(name)][b] = {
                "interval_width_rel": float(np.mean(sel["p90_kw"] - sel["p10_kw"]) / capacity_kw),
                "pinball_clim_kw": pin_c,
                "pinball_skill_vs_climatology": 1.0 - pin / pin_c if pin_c > 0 else math.nan,
                # the P50's own term (q = 0.5, i.e. MAE / 2) against the climatological median: when it is
                # negative the P50 (chosen for squared error) is a worse median than climatology's
                "p50_pinball_skill_vs_climatology": 1.0 - med / med_c if med_c > 0 else math.nan,
                "band_pinball_skill_vs_climatology": 1.0 - tails / tails_c if tails_c > 0 else math.nan,
            }
    return out


def _pinball(y: np.ndarray, sel: pd.DataFrame, prefix: str) -> float:
    return float(np.mean([pinball_loss(y, sel[f"{prefix}p{q}_kw"].to_numpy(), q / 100) for q in (10, 50, 90)]))


def reference_comparison(metrics: dict[str, dict[str, dict[str, float]]], champion: str) -> dict[str, Any]:
    """Per bucket: the champion's nRMSE against the best of persistence, climatology and Prophet."""
    out: dict[str, Any] = {}
    for b in HORIZON_BUCKETS:
        refs = {r: metrics[r][b]["nrmse"] for r in REFERENCES if r in metrics and not math.isnan(metrics[r][b]["nrmse"])}
        if not refs or champion not in metrics:
            continue
        best = min(refs, key=lambda r: refs[r])
        champ = metrics[champion][b]["nrmse"]
        out[b] = {"best_reference": best, "best_reference_nrmse": refs[best], "champion_nrmse": champ,
                  "improvement": 1.0 - champ / refs[best] if refs[best] > 0 else math.nan}
    return out


__all__ = ["DAY_AHEAD_BUCKET", "ENSEMBLE_NAME", "climatology_quantiles", "ensemble_frame",
           "holdout_frame", "issue_scales", "reference_comparison", "sharpness_metrics"]
