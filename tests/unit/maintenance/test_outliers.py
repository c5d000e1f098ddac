"""The tuned outlier rule on the pvanalytics labelled set, against the raw pvanalytics functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from heliosgrid.maintenance.evaluation import evaluate_pvanalytics
from heliosgrid.maintenance.outliers import flag_outliers


def test_labelled_outliers_precision_and_recall_beat_raw_pvanalytics() -> None:
    out = evaluate_pvanalytics()["outliers"]
    assert out["precision"] >= 0.9 and out["recall"] >= 0.9
    for baseline in out["baselines"].values():
        assert (baseline["precision"] or 0) < out["precision"] or (baseline["recall"] or 0) < out["recall"]


@given(peak=st.floats(0.2, 1.0), clouds=st.floats(0.0, 0.15), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_a_plausible_day_with_mild_cloud_noise_is_never_flagged(peak: float, clouds: float, seed: int) -> None:
    idx = pd.date_range("2026-06-01", periods=96, freq="15min", tz="UTC")
    hours = np.arange(96) / 4.0
    shape = np.clip(np.sin((hours - 6.0) / 12.0 * np.pi), 0.0, None) * peak
    noise = 1.0 - np.random.default_rng(seed).uniform(0.0, clouds, 96)
    assert not flag_outliers(pd.Series(shape * noise, index=idx)).any()


def test_impossible_values_and_isolated_dips_are_flagged() -> None:
    idx = pd.date_range("2026-06-01 10:00", periods=7, freq="15min", tz="UTC")
    s = pd.Series([0.8, 0.82, 0.05, 0.81, 1.6, 0.8, -0.4], index=idx)
    assert flag_outliers(s).tolist() == [False, False, True, False, True, False, True]
