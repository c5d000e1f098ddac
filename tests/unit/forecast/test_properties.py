"""Property-based checks (hypothesis): whatever the calibration offsets and the model's CSI, the
quantiles are ordered, non-negative, zero at night and never above capacity; the CSV parser never
lets a malformed value through as a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heliosgrid.forecast.calibration import ResidualCalibrator
from heliosgrid.forecast.datasets import load_power_csv
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.models import ForecastModel
from heliosgrid.forecast.solar import ForecastInputError, SolarContext
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power

HISTORY = synthetic_power(6, pattern="random", seed=2)
ISSUE = pd.Timestamp("2024-05-07T00:00Z")
CTX = SolarContext(DEFAULT_SITE, 100.0)
CTX.table(pd.date_range(HISTORY.index[0], ISSUE + pd.Timedelta(days=3), freq="15min"))


class FixedCSI(ForecastModel):
    """A model that returns given CSI values (any finite float, even negative or huge)."""

    name = "fixed"

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def predict_csi(self, k, issue_time, steps, ctx, weather=None):  # type: ignore[no-untyped-def]
        return np.resize(self.values, len(steps))


finite = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(finite, min_size=1, max_size=20), q=st.tuples(finite, finite, finite))
def test_quantiles_always_valid(values: list[float], q: tuple[float, float, float]) -> None:
    fc = Forecaster(FixedCSI(np.array(values)), CTX)
    fc.calibrator = ResidualCalibrator(overall=q)
    out = fc.predict_quantiles(HISTORY, ISSUE, 96)
    p = out[["p10_kw", "p50_kw", "p90_kw"]].to_numpy()
    assert np.all(np.isfinite(p))
    assert np.all(p[:, 0] <= p[:, 1]) and np.all(p[:, 1] <= p[:, 2])
    assert np.all(p >= 0) and np.all(p <= 100.0)
    night = CTX.clearsky_kw(pd.DatetimeIndex(out["target_ts"])) == 0
    assert np.all(p[night] == 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cell=st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\x00,\"\r\n"), max_size=30))
def test_csv_parser_errors_are_clean(tmp_path: Path, cell: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(f"time,power\n2024-06-01T10:00Z,1\n{cell},2\n2024-06-01T10:30Z,3\n", encoding="utf-8")
    try:
        s = load_power_csv(path, timestamp_col="time", power_col="power")
    except ForecastInputError as exc:
        assert str(exc)  # a message, not a traceback
    else:
        assert str(s.index.tz) == "UTC" and (s.dropna() >= 0).all()


def test_csv_mixing_offset_and_naive_timestamps_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,power\n2024-06-01T10:00Z,1\n2024-06-01,2\n2024-06-01T10:30Z,3\n", encoding="utf-8")
    with pytest.raises(ForecastInputError, match="mix times with and without a UTC offset"):
        load_power_csv(path, timestamp_col="time", power_col="power")


def test_fixed_model_sanity() -> None:
    with pytest.raises(ForecastInputError):
        Forecaster(FixedCSI(np.array([1.0])), CTX).predict_quantiles(HISTORY, ISSUE.tz_localize(None))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.floats(0.0, 0.9), st.integers(0, 10_000))
def test_row_nanquantiles_equals_numpy_nanquantile(rows: int, cols: int, nan_share: float, seed: int) -> None:
    """The vectorised slot quantiles are numpy's nanquantile (linear), all-NaN rows included."""
    import warnings

    from heliosgrid.forecast.features import row_nanquantiles

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols))
    x[rng.random(x.shape) < nan_share] = np.nan
    qs = (0.1, 0.5, 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanquantile(x, qs, axis=1).T
    np.testing.assert_allclose(row_nanquantiles(x, qs), want, equal_nan=True, rtol=1e-12, atol=1e-12)


def test_local_times_with_daylight_saving_offsets_are_placed_by_their_own_offset(tmp_path: Path) -> None:
    """A logger export in local time with its offset, which changes with DST (-08:00 in winter, -07:00 in
    summer): every time goes to UTC by its own offset (this was refused as 'mixing' offsets and naive times)."""
    path = tmp_path / "x.csv"
    path.write_text("time,power\n2018-11-07T15:15:00-08:00,1\n2019-05-01T10:00:00-07:00,2\n", encoding="utf-8")
    s = load_power_csv(path, timestamp_col="time", power_col="power", tz="America/Los_Angeles", raw=True)
    assert list(s.index) == [pd.Timestamp("2018-11-07 23:15Z"), pd.Timestamp("2019-05-01 17:00Z")]


def test_naive_times_in_another_format_are_local_time_in_the_zone(tmp_path: Path) -> None:
    """'9/14/2018 2:15' (pvops' Sandia O&M files) is local time in --tz, not UTC."""
    path = tmp_path / "x.csv"
    path.write_text("time,power\n9/14/2018 2:15,1\n9/14/2018 2:30,2\n", encoding="utf-8")
    s = load_power_csv(path, timestamp_col="time", power_col="power", tz="America/New_York", raw=True)
    assert s.index[0] == pd.Timestamp("2018-09-14 06:15Z")


def test_a_european_portal_export_reads_as_it_means(tmp_path: Path) -> None:
    """``;`` separators, decimal commas and day-first dates (a Sunny Portal style export)."""
    path = tmp_path / "sma.csv"
    path.write_text("Zeit;Leistung\n01.06.2024 10:00;7,25\n13.06.2024 10:05;1.234,5\n", encoding="utf-8")
    s = load_power_csv(path, timestamp_col="Zeit", power_col="Leistung", tz="Europe/Madrid", raw=True)
    assert list(s.index) == [pd.Timestamp("2024-06-01 08:00Z"), pd.Timestamp("2024-06-13 08:05Z")]
    assert s.tolist() == [7.25, 1234.5]
