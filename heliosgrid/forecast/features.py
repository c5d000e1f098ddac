"""Features known at the issue time, computed from the clear-sky-index history only.

Positions are on the regular 15-min grid; ``p`` is the issue time (values ``k[:p]`` are available).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from heliosgrid.forecast.solar import STEPS_PER_DAY

BLEND_MAX_HORIZON_MIN = 360
DEFAULT_HORIZON_STEPS = 192  # 48 h of 15-min intervals
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


def _slot_values(k: np.ndarray, p: int, steps: np.ndarray, days: int, half_width: int = 0) -> np.ndarray:
    """CSI values of the same 15-min slot (± ``half_width`` slots) over the ``days`` most recent days
    before ``p``, one row per step (NaN where unavailable)."""
    t = p + steps
    first = steps // STEPS_PER_DAY + 1  # smallest whole-day lag that lands before the issue time
    lags = first[:, None] + np.arange(days)[None, :]
    idx = t[:, None] - STEPS_PER_DAY * lags
    if half_width > 0:
        idx = (idx[:, :, None] + np.arange(-half_width, half_width + 1)[None, None, :]).reshape(len(steps), -1)
        idx = np.where(idx < p, idx, -1)  # neighbours must also lie before the issue time
    valid_idx = idx >= 0
    return np.asarray(np.where(valid_idx, k[np.clip(idx, 0, max(len(k) - 1, 0))] if len(k) else np.nan, np.nan))


def slot_climatology(k: np.ndarray, p: int, steps: np.ndarray, days: int, half_width: int = 0) -> np.ndarray:
    """Mean CSI of the same 15-min slot over the ``days`` most recent days available before ``p``;
    with ``half_width`` > 0 also of the ``half_width`` neighbouring slots on each side (a smoother
    time-of-day profile)."""
    vals = _slot_values(k, p, steps, days, half_width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmean(vals, axis=1))


def slot_quantiles(k: np.ndarray, p: int, steps: np.ndarray, days: int, half_width: int,
                   quantiles: tuple[float, ...]) -> np.ndarray:
    """Empirical CSI quantiles (len(steps) × len(quantiles)) of the same slot (± ``half_width``) over
    the last ``days`` days before ``p``: the climatological quantile forecast (NaN where no data)."""
    return row_nanquantiles(_slot_values(k, p, steps, days, half_width), quantiles)


def row_nanquantiles(vals: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """``np.nanquantile(vals, quantiles, axis=1).T`` (linear interpolation) without its per-row Python loop:
    NaN rows give NaN. One sort of the whole matrix (NaN sort last), then interpolation at ``(n − 1) q``
    of each row's ``n`` valid values; the per-row loop of ``np.nanquantile`` was the largest single cost
    of a site's training (≈ 15 % of its CPU)."""
    v = np.sort(np.asarray(vals, dtype=float), axis=1)
    n = np.sum(~np.isnan(v), axis=1)
    out = np.full((v.shape[0], len(quantiles)), np.nan)
    have = n > 0
    if not have.any() or v.shape[1] == 0:
        return out
    rows = np.nonzero(have)[0]
    last = (n[have] - 1).astype(float)
    for j, q in enumerate(quantiles):
        pos = last * q
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n[have] - 1)
        frac = pos - lo
        a, b = v[rows, lo], v[rows, hi]
        out[rows, j] = a + (b - a) * frac
    return out


#: Climatological quantile forecast: same slot ± 30 min over the last 14 days.
CLIM_QUANTILE_DAYS = 14
CLIM_QUANTILE_HALF_WIDTH = 2
#: Floor of the band scale (clear-sky index units).
SPREAD_FLOOR = 0.05


def climatology_halfwidths(k: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower (P50 − P10) and upper (P90 − P50) half-widths (CSI) of the climatological quantiles of each
    target slot, floored at :data:`SPREAD_FLOOR`: the band scales. They carry the time-of-day shape and
    the skew of recent weather (after clear weeks the downside is wide and the upside narrow)."""
    lo, hi, _ = climatology_band(k, steps)
    return lo, hi


def climatology_band(k: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`climatology_halfwidths` plus the climatological median CSI of each target slot (NaN where the
    last 14 days have no value of the slot): the band scales and the climatological band centre."""
    q = slot_quantiles(k, len(k), steps, CLIM_QUANTILE_DAYS, CLIM_QUANTILE_HALF_WIDTH, (0.1, 0.5, 0.9))
    lo, hi = halfwidths_from_quantiles(q)
    return lo, hi, np.asarray(q[:, 1])


#: Half-widths are averaged over ± this many 15-min steps: slot quantiles of ~70 values jump from one
#: slot to the next, which would make the band jagged.
HALFWIDTH_SMOOTH_STEPS = 4


def halfwidths_from_quantiles(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed, floored lower/upper half-widths from consecutive-step quantiles ``q`` (n × 3: k10, k50, k90)."""
    lo = pd.Series(np.nan_to_num(q[:, 1] - q[:, 0], nan=0.5))
    hi = pd.Series(np.nan_to_num(q[:, 2] - q[:, 1], nan=0.5))
    win = 2 * HALFWIDTH_SMOOTH_STEPS + 1
    lo_s = lo.rolling(win, center=True, min_periods=1).mean().to_numpy()
    hi_s = hi.rolling(win, center=True, min_periods=1).mean().to_numpy()
    return np.asarray(np.maximum(lo_s, SPREAD_FLOOR)), np.asarray(np.maximum(hi_s, SPREAD_FLOOR))


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
