"""Linear hand-over between horizon segments, so that nothing chosen per horizon bucket makes a cliff.

Several things are fitted per horizon bucket: the per-horizon champion's member weights
(:mod:`heliosgrid.forecast.ensemble`), and every member's median bias correction and persistence blend weight
(:mod:`heliosgrid.forecast.calibration`). Used as steps, they made the P50 jump between two neighbouring
15-min targets. On the demo stack a site's forecast fell from 1022 to 582 kW between 11:45 and 12:00 UTC,
at the 6-h edge of persistence's bias correction (ADR 0460). Near every inner edge the value is interpolated
linearly between the two segments' values, over ± a quarter of the narrower segment and at most
:data:`HANDOVER_MAX_MIN`. Away from the edges each segment keeps its own value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HANDOVER_MAX_MIN = 60.0
"""Largest half-width (minutes) of a hand-over zone."""


def handover_halfwidth_min(edges_min: Sequence[float], j: int) -> float:
    """Half-width (minutes) of the hand-over at inner edge ``edges_min[j]``: a quarter of the narrower of its
    two segments, at most :data:`HANDOVER_MAX_MIN`."""
    narrower = min(edges_min[j] - edges_min[j - 1], edges_min[j + 1] - edges_min[j])
    return float(min(HANDOVER_MAX_MIN, 0.25 * narrower))


def bucket_index(horizon_min: np.ndarray, edges_min: Sequence[float]) -> np.ndarray:
    """Segment of each horizon (minutes): ``i`` with ``edges[i] ≤ h < edges[i+1]``, clipped to the first and last."""
    h = np.asarray(horizon_min, dtype=float)
    return np.clip(np.searchsorted(np.asarray(edges_min, dtype=float), h, side="right") - 1, 0, len(edges_min) - 2)


def handover(horizon_min: np.ndarray, edges_min: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per horizon (minutes): (lower segment, upper segment, λ) with segment ``i`` = ``[edges[i], edges[i+1])``.

    A value fitted per segment is ``(1 − λ) × value[lower] + λ × value[upper]``. Away from an edge both
    segments are the horizon's own and λ = 0. In a zone ``[edge − w, edge + w)`` they are the two neighbours
    and λ rises linearly from 0 to 1. Horizons beyond the last edge take the last segment."""
    h = np.asarray(horizon_min, dtype=float)
    n_seg = len(edges_min) - 1
    own = bucket_index(h, edges_min)
    lower, upper, lam = own.copy(), own.copy(), np.zeros(len(h))
    for j in range(1, n_seg):
        half = handover_halfwidth_min(edges_min, j)
        zone = (h >= edges_min[j] - half) & (h < edges_min[j] + half)
        lower[zone], upper[zone] = j - 1, j
        lam[zone] = (h[zone] - (edges_min[j] - half)) / (2.0 * half)
    return lower, upper, lam


__all__ = ["HANDOVER_MAX_MIN", "bucket_index", "handover", "handover_halfwidth_min"]
