"""Calibrated P10/P50/P90 from clear-sky-index residuals: normalised split conformal per (horizon
bucket × predicted-CSI regime) cell with a finite-sample correction and a drift margin (ADR 0022).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from heliosgrid.forecast.handover import handover
from heliosgrid.forecast.solar import STEPS_PER_DAY

QUANTILES = (0.1, 0.5, 0.9)
#: Calibration cells: horizon bucket edges (minutes) and predicted-CSI regime edges.
CAL_HORIZON_EDGES_MIN = (0, 60, 180, 360, 1440, 2880)
CAL_REGIME_EDGES = (0.35, 0.75)
CAL_MIN_SAMPLES = 40


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
        ``scale``; the P50 offset (median bias correction) is not scaled. Near a horizon bucket's edge the
        two buckets' offsets are handed over linearly (:func:`heliosgrid.forecast.handover.handover`): a
        bias correction used as a step made the P50 jump by up to 40 % between neighbouring targets."""
        lower, upper, lam = handover(horizon_min, CAL_HORIZON_EDGES_MIN)
        rg = self.cells(horizon_min, k_hat)[1]
        out = self._lookup(lower, rg)
        zone = lam > 0  # elsewhere the upper segment is the lower one
        out[zone] = (1.0 - lam[zone, None]) * out[zone] + lam[zone, None] * self._lookup(upper[zone], rg[zone])
        out[:, [0, 2]] *= scale
        return out

    def _lookup(self, hb: np.ndarray, rg: np.ndarray) -> np.ndarray:
        """The fitted (P10, P50, P90) offsets of each (horizon bucket, regime) cell, with the fallbacks."""
        out = np.empty((len(hb), 3))
        for i, (b, g) in enumerate(zip(hb.tolist(), rg.tolist(), strict=True)):
            out[i] = self.table.get((b, g)) or self.bucket_table.get(b) or self.overall
        return out


def blend_weight(weights: np.ndarray, horizon_min: np.ndarray) -> np.ndarray:
    """The reference blend weight of :func:`fit_blend_weights` per horizon, handed over linearly between
    calibration buckets (:func:`heliosgrid.forecast.handover.handover`)."""
    lower, upper, lam = handover(horizon_min, CAL_HORIZON_EDGES_MIN)
    w = np.asarray(weights, dtype=float)
    return np.asarray((1.0 - lam) * w[lower] + lam * w[upper])


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
