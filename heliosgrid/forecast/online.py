"""Production bands updated online from realised errors (``forecast_vs_actual``).

Between retrains the champion's band offsets would stay those of its training hold-out. At every hourly
forecast, :func:`online_offsets` replays the champion's stored forecasts that have matured (target
measured, ``target_ts + 15 min`` ≤ issue time) over the last :data:`ONLINE_WINDOW_DAYS` days through the
same adaptive conformal band as the backtest (:class:`heliosgrid.forecast.conformal.OnlineBand`, per
horizon bucket, in issue-time order). The conformity scores use the band scales each forecast had at
its own issue time, recomputed from the history before it (``P_cs × climatological half-widths``).
:func:`apply_offsets` then rebuilds P10/P90 of the new forecast around its P50. A bucket with fewer than
:data:`MIN_ONLINE_SCORES` matured daylight forecasts keeps the trained band.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from heliosgrid.forecast.bandsource import aci_gamma, band_centre
from heliosgrid.forecast.conformal import OnlineBand, band_from_offsets, floored_scale, scores
from heliosgrid.forecast.features import climatology_band
from heliosgrid.forecast.forecaster import truncate_history
from heliosgrid.forecast.metrics import HORIZON_BUCKETS, bucket_of, point_column
from heliosgrid.forecast.solar import STEP, SolarContext, regular_grid

log = logging.getLogger(__name__)

#: Days of matured forecasts replayed at each issue time (the conformal window).
ONLINE_WINDOW_DAYS = 14
#: Matured daylight forecasts a bucket needs before its online offsets replace the trained ones.
MIN_ONLINE_SCORES = 50


def matured_forecasts(conn: psycopg.Connection, site_id: str, model_version: str, issued_at: pd.Timestamp,
                      window_days: int = ONLINE_WINDOW_DAYS) -> pd.DataFrame:
    """Stored forecasts of ``model_version`` issued in the last ``window_days`` whose target was measured
    before ``issued_at``: issued_at, target_ts, horizon_min, point_kw (the point forecast the band was centred
    on; the P50 of rows stored before migration 0220), actual_kw (kW, UTC)."""
    rows = conn.execute(
        """SELECT issued_at, target_ts, horizon_min, coalesce(point_kw, p50_kw), actual_kw FROM forecast_vs_actual
           WHERE site_id = %s AND model_version = %s AND issued_at >= %s AND issued_at < %s
             AND target_ts + interval '15 minutes' <= %s AND actual_kw IS NOT NULL
           ORDER BY issued_at, target_ts""",
        (site_id, model_version, (issued_at - pd.Timedelta(days=window_days)).to_pydatetime(),
         issued_at.to_pydatetime(), issued_at.to_pydatetime()),
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["issued_at", "target_ts", "horizon_min", "point_kw", "actual_kw"])
    for col in ("issued_at", "target_ts"):
        frame[col] = pd.DatetimeIndex(pd.to_datetime(frame[col], utc=True))
    return frame.astype({"horizon_min": int, "point_kw": float, "actual_kw": float})


def band_scales(ctx: SolarContext, history: pd.Series, issue: pd.Timestamp,
                horizon_min: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower/upper band scales (kW) of targets ``issue + horizon_min`` known at ``issue``, and the
    climatological median (kW, NaN where unknown): the band centre's climatological part."""
    avail = truncate_history(history, issue).dropna()
    k = ctx.csi(regular_grid(avail, issue)).to_numpy() if len(avail) else np.zeros(0)
    return _scales_from_csi(ctx, k, issue, horizon_min)


def _scales_from_csi(ctx: SolarContext, k_before_issue: np.ndarray, issue: pd.Timestamp,
                     horizon_min: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band scales and climatological median (kW) from the CSI grid that ends just before ``issue``."""
    c_lo, c_hi, c_mid = climatology_band(k_before_issue, (np.asarray(horizon_min) // 15).astype(int))
    cs = ctx.clearsky_kw(pd.DatetimeIndex(issue + pd.to_timedelta(horizon_min, unit="min")))
    return floored_scale(cs * c_lo, ctx.capacity_kw), floored_scale(cs * c_hi, ctx.capacity_kw), cs * c_mid


class IssueScales:
    """Band scales at many issue times from ONE clear-sky-index grid of the history (the replay of
    :func:`online_offsets` asks for ~56 issue times per hourly forecast; recomputing the grid and the
    CSI of the whole history for each was the cost). Same values as :func:`band_scales`: at an issue
    time only the grid positions before it are used."""

    def __init__(self, ctx: SolarContext, history: pd.Series) -> None:
        self.ctx = ctx
        avail = history.dropna()
        grid = ctx.csi(regular_grid(avail)) if len(avail) else pd.Series(dtype=float)
        self.k = grid.to_numpy()
        self.index_ns = pd.DatetimeIndex(grid.index).asi8 if len(grid) else np.zeros(0, dtype=np.int64)
        self.end_ns = int(self.index_ns[-1]) if len(grid) else None

    def __call__(self, issue: pd.Timestamp, horizon_min: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = int(np.searchsorted(self.index_ns, issue.value, side="left"))
        k = self.k[:p]
        if self.end_ns is not None and issue.value > self.end_ns + STEP.value:  # grid ends before the issue
            gap = (issue.value - self.end_ns - STEP.value) // STEP.value
            k = np.concatenate([k, np.full(int(gap), np.nan)])
        return _scales_from_csi(self.ctx, k, issue, horizon_min)


def _centres(point_kw: np.ndarray, clim_kw: np.ndarray, buckets: np.ndarray, centre: dict[str, float] | None) -> np.ndarray:
    weight = np.array([(centre or {}).get(b, 1.0) for b in buckets])
    return band_centre(point_kw, clim_kw, weight)


def online_offsets(matured: pd.DataFrame, history: pd.Series, ctx: SolarContext,
                   min_scores: int = MIN_ONLINE_SCORES,
                   centre: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Per bucket, the (lower, upper) score offsets after replaying ``matured`` in issue order through an
    :class:`OnlineBand` (buckets with fewer than ``min_scores`` daylight scores are left out). Scores are
    taken around each bucket's band centre (``centre``: weight of the point forecast, default 1; bandsource.py)."""
    issues = np.sort(matured["issued_at"].unique())
    bands = {b: OnlineBand(gamma=aci_gamma(b, issues)) for b in HORIZON_BUCKETS}
    counts = dict.fromkeys(HORIZON_BUCKETS, 0)
    scales = IssueScales(ctx, history)
    for issue, part in matured.groupby("issued_at", sort=True):
        h = part["horizon_min"].to_numpy()
        lo_kw, hi_kw, mid_kw = scales(pd.Timestamp(issue), h)
        buckets = bucket_of(h)
        y, c = part["actual_kw"].to_numpy(), _centres(part[point_column(part)].to_numpy(), mid_kw, buckets, centre)
        r_lo, r_hi = scores(y, c, lo_kw), scores(y, c, hi_kw)
        for b, band in bands.items():
            sel = (buckets == b) & np.isfinite(r_lo) & np.isfinite(r_hi)
            if sel.any():
                band.update(r_lo[sel], r_hi[sel])
                counts[b] += int(sel.sum())
    return {b: bands[b].offsets() for b in HORIZON_BUCKETS if counts[b] >= min_scores}


def apply_offsets(frame: pd.DataFrame, offsets: dict[str, tuple[float, float]], history: pd.Series, ctx: SolarContext,
                  issue: pd.Timestamp, centre: dict[str, float] | None = None) -> pd.DataFrame:
    """``frame`` (a forecast issued at ``issue``) with P10/P90 rebuilt from ``offsets`` in its buckets, around the
    band centre of its point forecast (``point_kw``, else the P50) and always containing its P50."""
    if not offsets or frame.empty:
        return frame
    h = frame["horizon_min"].to_numpy()
    lo_kw, hi_kw, mid_kw = band_scales(ctx, history, issue, h)
    buckets = bucket_of(h)
    have = np.isin(buckets, list(offsets))
    lower = np.array([offsets.get(b, (0.0, 0.0))[0] for b in buckets])
    upper = np.array([offsets.get(b, (0.0, 0.0))[1] for b in buckets])
    p50 = frame["p50_kw"].to_numpy()
    point = frame[point_column(frame)].to_numpy()
    p10, p90 = band_from_offsets(_centres(point, mid_kw, buckets, centre), lo_kw, hi_kw, lower, upper, ctx.capacity_kw)
    out = frame.copy()
    out["p10_kw"] = np.where(have, np.minimum(p10, p50), frame["p10_kw"].to_numpy())
    out["p90_kw"] = np.where(have, np.maximum(p90, p50), frame["p90_kw"].to_numpy())
    return out


def update_band_online(conn: psycopg.Connection, frame: pd.DataFrame, champion: dict[str, Any], history: pd.Series,
                       ctx: SolarContext, issue: pd.Timestamp, centre: dict[str, float] | None = None,
                       ) -> tuple[pd.DataFrame, dict[str, tuple[float, float]]]:
    """The champion's new forecast with its band updated from its matured forecasts; and the offsets used.
    ``centre``: the champion's band centre per bucket (``EnsembleForecaster.band_centre``; default the P50)."""
    matured = matured_forecasts(conn, champion["site_id"], champion["model_version"], issue)
    if matured.empty:
        return frame, {}
    offsets = online_offsets(matured, history[history.index >= issue - pd.Timedelta(days=2 * ONLINE_WINDOW_DAYS + 1)],
                             ctx, centre=centre)
    if offsets:
        log.info("site %s: band updated online from %d matured forecasts (%s)", champion["site_id"], len(matured),
                 ", ".join(f"{b}: {lo:+.2f}/{hi:+.2f}" for b, (lo, hi) in offsets.items()))
    return apply_offsets(frame, offsets, history, ctx, issue, centre), offsets


__all__ = ["MIN_ONLINE_SCORES", "ONLINE_WINDOW_DAYS", "apply_offsets", "band_scales", "matured_forecasts",
           "online_offsets", "update_band_online"]
