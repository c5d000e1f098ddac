"""Soiling ramps on a daily index: cleanings, hinge fit, ramp energy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heliosgrid.maintenance.detectors.soiling_ramp import cleanings, hinge_fit, looks_like_step, ramp_energy_kwh


def _ramp(days: np.ndarray, onset: float, rate: float, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 - rate * np.clip(days - onset, 0.0, None) + rng.normal(0.0, noise, len(days))


def test_cleaning_found_where_the_index_returns_to_its_clean_level() -> None:
    t = np.arange(20, dtype=float)
    rel = _ramp(t, 3.0, 0.006, 0.005)
    rel[15:] = 1.0 + np.random.default_rng(1).normal(0.0, 0.005, 5)  # washed on day 15
    assert cleanings(rel, t, 0.04) == [15]


def test_no_cleaning_on_a_ramp_or_a_single_bright_day() -> None:
    t = np.arange(20, dtype=float)
    assert cleanings(_ramp(t, 3.0, 0.006, 0.005), t, 0.04) == []
    rel = _ramp(t, 3.0, 0.006, 0.005)
    rel[15] = 1.0  # one bright day, the next ones dirty again: haze before it, not a wash
    assert cleanings(rel, t, 0.04) == []


def test_hinge_fit_recovers_onset_and_rate() -> None:
    t = np.arange(25, dtype=float)
    onset, rate, base = hinge_fit(_ramp(t, 6.0, 0.005, 0.004), t)
    assert abs(onset - 6.0) <= 2.0
    assert abs(rate - 0.005) <= 0.001
    assert abs(base - 1.0) <= 0.01


def test_ramp_energy_stops_at_the_end() -> None:
    idx = pd.date_range("2026-06-01", periods=4 * 96, freq="15min", tz="UTC")
    f = pd.DataFrame({"ac_power_kw_avg": 90.0}, index=idx)
    onset = idx[0]
    # Loss L = 1 % per day; Σ 90 kW × L/(1 − L) × 0.25 h over 2 days vs 4 days: the ramp stops at the cleaning.
    two = ramp_energy_kwh(f, onset, 0.01, onset + pd.Timedelta(days=2))
    four = ramp_energy_kwh(f, onset, 0.01, onset + pd.Timedelta(days=4))
    assert 0 < two < four
    expected_two = sum(90.0 * (0.01 * k / 96) / (1 - 0.01 * k / 96) * 0.25 for k in range(192))
    assert abs(two - expected_two) < 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_a_soiling_ramp_is_no_step_and_an_abrupt_loss_is(seed: int) -> None:
    """Clear-day indices 1–3 days apart with 2 % day-to-day scatter: a 0.5 %/day ramp (the injected
    real-data soiling) is a ramp; a 17 % loss from one clear day to the next (the demo stack's string
    outage that was reported as soiling) is a step."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.integers(1, 4, 12)).astype(float)
    assert not looks_like_step(_ramp(t, 4.0, 0.005, 0.02, seed), t)
    rel = 1.0 + rng.normal(0.0, 0.02, len(t))
    rel[6:] -= 0.17
    assert looks_like_step(rel, t)
