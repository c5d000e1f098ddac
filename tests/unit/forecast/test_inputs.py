"""Built-in datasets (read from the installed wheel), CSV parsing and the file weather provider."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heliosgrid.forecast.datasets import load_dataset, load_power_csv, to_15min
from heliosgrid.forecast.solar import ForecastInputError, SolarContext
from heliosgrid.forecast.synthetic import DEFAULT_SITE
from heliosgrid.forecast.weather import FileWeatherProvider


def test_serf_dataset_from_wheel() -> None:
    ds = load_dataset("serf")
    s = ds.series
    assert str(s.index.tz) == "UTC"
    assert set(np.diff(s.index.asi8)) == {15 * 60 * 10**9}  # a regular 15-min grid
    assert len(s) > 9000 and (s.dropna() >= 0).all()
    assert ds.capacity_kw == pytest.approx(np.ceil(s.max() * 10) / 10)
    assert 3.0 < ds.capacity_kw < 10.0  # a few-kW rooftop array (file is in W)


def test_csv_resamples_1min_to_15min(tmp_path: Path) -> None:
    idx = pd.date_range("2024-06-01 10:00", periods=30, freq="1min")
    path = tmp_path / "p.csv"
    pd.DataFrame({"t": idx.strftime("%Y-%m-%dT%H:%M:%S+02:00"), "w": np.arange(30) * 1000.0}).to_csv(path, index=False)
    s = load_power_csv(path, timestamp_col="t", power_col="w", power_unit="W")
    assert list(s.index) == [pd.Timestamp("2024-06-01T08:00Z"), pd.Timestamp("2024-06-01T08:15Z")]
    assert s.iloc[0] == pytest.approx(7.0) and s.iloc[1] == pytest.approx(22.0)  # mean of 0..14, 15..29 kW


def test_a_first_column_without_a_header_is_the_timestamp_with_an_empty_name(tmp_path: Path) -> None:
    """A pandas frame written with its index (captest's example data): the time column has no header."""
    idx = pd.date_range("2024-06-01 10:00", periods=30, freq="1min", tz="UTC")
    path = tmp_path / "p.csv"
    pd.DataFrame({"w": np.full(30, 2000.0)}, index=idx).to_csv(path)
    assert load_power_csv(path, timestamp_col="", power_col="w", power_unit="W").tolist() == [2.0, 2.0]
    with pytest.raises(ForecastInputError, match=r"no column\(s\) 'time'.*the first column has no header: give the "
                       "timestamp column as ''"):
        load_power_csv(path, timestamp_col="time", power_col="w")


def test_coarser_than_15_min_is_refused() -> None:
    idx = pd.date_range("2024-06-01", periods=5, freq="1h", tz="UTC")
    with pytest.raises(ForecastInputError, match="resolution is 60 min"):
        to_15min(pd.Series(1.0, index=idx))


def test_file_weather_provider_uses_newest_run_issued_before(tmp_path: Path) -> None:
    path = tmp_path / "nwp.csv"
    rows = []
    for issued, ghi in (("2024-05-01T00:00Z", 500.0), ("2024-05-01T12:00Z", 100.0)):
        for h in range(0, 48):
            rows.append({"issued_at": issued, "target_ts": pd.Timestamp(issued) + pd.Timedelta(hours=h), "ghi_w_m2": ghi})
    pd.DataFrame(rows).to_csv(path, index=False)
    provider = FileWeatherProvider(path)
    targets = pd.date_range("2024-05-01T13:00Z", periods=4, freq="15min")
    early = provider.forecast(pd.Timestamp("2024-05-01T11:45Z"), targets)
    late = provider.forecast(pd.Timestamp("2024-05-01T12:00Z"), targets)
    assert (early["ghi_w_m2"] == 500.0).all() and (late["ghi_w_m2"] == 100.0).all()
    assert provider.forecast(pd.Timestamp("2024-04-30T00:00Z"), targets)["ghi_w_m2"].isna().all()
    kt = provider.forecast_csi(SolarContext(DEFAULT_SITE, 100.0), pd.Timestamp("2024-05-01T12:00Z"), targets)
    assert np.all((kt > 0) & (kt < 1))


def test_weather_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "nwp.csv"
    path.write_text("issued_at,target_ts\n2024-01-01T00:00Z,2024-01-01T01:00Z\n")
    with pytest.raises(ForecastInputError, match="lacks column"):
        FileWeatherProvider(path)
