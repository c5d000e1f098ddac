"""The per-horizon champion's weights hand over between buckets instead of jumping (ensemble.horizon_weights)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.forecast.ensemble import combine_p50, horizon_weights
from heliosgrid.forecast.handover import handover_halfwidth_min
from heliosgrid.forecast.metrics import HORIZON_BUCKETS

hz = np.arange(192) * 15.0  # 0 .. 2865 min, the forecast's 15-min horizons
WEIGHTS = {
    "0-1h": {"gbm": 1 / 3, "arima": 1 / 3, "persistence": 1 / 3},
    "1-6h": {"persistence": 0.95, "prophet": 0.05},
    "6-24h": {"persistence": 0.56, "prophet": 0.44},
    "24-48h": {"climatology": 0.52, "prophet": 0.24, "persistence": 0.24},
}


def test_weights_are_the_buckets_own_away_from_the_edges_and_sum_to_one() -> None:
    w = horizon_weights(hz, WEIGHTS)
    total = sum(w.values())
    assert np.allclose(total, 1.0)
    for b, (lo, hi) in HORIZON_BUCKETS.items():
        inner = (hz >= lo + 60) & (hz < hi - 60) if hi - lo > 120 else (hz >= lo) & (hz < hi - 15)
        for name, v in WEIGHTS[b].items():
            assert np.allclose(w[name][inner], v)


def test_the_p50_has_no_step_where_the_bucket_changes() -> None:
    """Persistence holds 988 kW, Prophet 300 kW: per bucket the P50 fell by 300 kW between two 15-min
    targets at 6 h; handed over, no step between neighbouring targets exceeds a sixth of that."""
    p50 = {n: np.full(len(hz), 988.0 if n == "persistence" else 300.0) for n in ("gbm", "arima", "persistence",
                                                                              "prophet", "climatology")}
    out = combine_p50(p50, hz, WEIGHTS)
    jump_at_6h = (0.95 - 0.56) * (988 - 300)
    assert np.max(np.abs(np.diff(out[(hz >= 240) & (hz <= 480)]))) < jump_at_6h / 6
    assert out[hz == 300][0] == np.float64(0.95 * 988 + 0.05 * 300)  # inside the bucket: its own blend


@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_handed_over_weights_stay_between_the_two_buckets(a: list[float], b: list[float]) -> None:
    names = ("x", "y", "z")
    weights = {"1-6h": dict(zip(names, a, strict=True)), "6-24h": dict(zip(names, b, strict=True))}
    w = horizon_weights(hz, weights)
    half = handover_halfwidth_min((0, 60, 360, 1440, 2880), 2)
    zone = (hz >= 360 - half) & (hz < 360 + half)
    for n, lo_w, hi_w in zip(names, a, b, strict=True):
        assert np.all(w[n][zone] >= min(lo_w, hi_w) - 1e-12) and np.all(w[n][zone] <= max(lo_w, hi_w) + 1e-12)
        assert np.all(np.diff(w[n][zone]) * (hi_w - lo_w) >= -1e-12)  # monotone from one to the other


def test_a_members_bias_correction_is_handed_over_at_the_calibration_edges() -> None:
    """Persistence's median residual was −0.1 in 3–6 h and −0.5 in 6–24 h (clear-sky index): as a step its
    P50 fell by 40 % between two neighbouring targets at 6 h. Handed over, the step is spread over six
    targets, and away from the edge each bucket keeps its own correction."""
    from heliosgrid.forecast.calibration import ResidualCalibrator, blend_weight

    cal = ResidualCalibrator(bucket_table={2: (-0.3, -0.1, 0.1), 3: (-0.8, -0.5, -0.2)})
    off = cal.offsets(hz, np.full(len(hz), 0.9))
    near = (hz >= 240) & (hz <= 480)
    assert np.max(np.abs(np.diff(off[near, 1]))) <= 0.4 / 6 + 1e-12  # six 15-min steps over ± 45 min
    assert off[hz == 240, 1][0] == -0.1 and off[hz == 480, 1][0] == -0.5
    w = blend_weight(np.array([1.0, 0.8, 0.6, 0.2, 0.0]), hz)
    assert np.max(np.abs(np.diff(w[near]))) <= 0.4 / 6 + 1e-12 and w[hz == 480][0] == 0.2
