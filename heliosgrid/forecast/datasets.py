"""Power series from CSV files and from the real datasets shipped inside installed wheels.

Nothing is downloaded: built-in datasets are read with :mod:`importlib.resources` from the
installed ``pvanalytics`` package (``pvanalytics/data``). Every loader returns a site AC power
series in kW on the 15-min grid (UTC, interval-start labels; finer data is averaged, negative
night tare is clipped to 0) together with the site description the models need.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from heliosgrid.csvread import CsvReadError, missing_columns, read_csv_any, resolve_column
from heliosgrid.forecast.hygiene import HygieneReport, clean_power_series
from heliosgrid.forecast.solar import STEP, ForecastInputError, site_from_capacity
from heliosgrid.physics.fleet import SiteSpec
from heliosgrid.timestamps import TimestampError
from heliosgrid.timestamps import parse_timestamps as _parse_timestamps
from heliosgrid.units import check_output_unit, to_kw

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PowerDataset:
    """A site power series (kW, 15-min, UTC) and its site description."""

    name: str
    series: pd.Series
    site: SiteSpec
    capacity_kw: float
    description: str
    hygiene: HygieneReport | None = None


def to_15min(power_kw: pd.Series) -> pd.Series:
    """Average a tz-aware power series (kW) onto 15-min interval-start labels (UTC).

    Raises :class:`ForecastInputError` when the data are coarser than 15 minutes.
    """
    s = power_kw.dropna().sort_index()
    s = s[~s.index.duplicated(keep="last")]
    if len(s) < 2:
        raise ForecastInputError("the power series has fewer than 2 valid values")
    step = pd.Series(s.index).diff().dt.total_seconds().median()
    if step > STEP.total_seconds() + 1:
        raise ForecastInputError(f"data resolution is {step / 60:.0f} min; at least 15-min resolution is required")
    s.index = s.index.tz_convert("UTC")
    out = s.clip(lower=0.0).resample(STEP, label="left", closed="left").mean()
    return out.rename("ac_power_kw")


def parse_timestamps(raw: pd.Series, tz: str, column: str) -> pd.DatetimeIndex:
    """:func:`heliosgrid.timestamps.parse_timestamps` with its errors as :class:`ForecastInputError`."""
    try:
        return _parse_timestamps(raw, tz, column)
    except TimestampError as exc:
        raise ForecastInputError(str(exc)) from None


def read_csv_columns(path: Path | str, timestamp_col: str, columns: Sequence[str], tz: str = "UTC") -> pd.DataFrame:
    """``columns`` of a CSV as floats (unparsable values NaN), indexed by ``timestamp_col`` parsed to UTC
    (:func:`parse_timestamps`; rows whose time cannot be placed are dropped, order and duplicates kept).
    :class:`ForecastInputError` names the missing file or column, the unreadable file, the bad
    timestamp, or the column without a single number."""
    path = Path(path)
    try:
        frame = read_csv_any(path)
    except CsvReadError as exc:
        raise ForecastInputError(str(exc)) from None
    timestamp_col = resolve_column(frame, timestamp_col)
    problem = missing_columns(path, frame, [timestamp_col, *columns], timestamp_col)
    if problem:
        raise ForecastInputError(problem)
    index = parse_timestamps(frame[timestamp_col], tz, timestamp_col)
    out = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in columns}, index=index)
    for c in columns:
        if out[c].notna().sum() == 0:
            raise ForecastInputError(f"column {c!r} has no numeric values")
        _warn_not_numbers(frame[c], out[c], c)
    return out[out.index.notna()]


def _warn_not_numbers(raw: pd.Series, numbers: pd.Series, column: str) -> None:
    """A warning naming how many non-empty cells of ``column`` are not numbers (read as missing), with examples:
    a value the reader cannot read is said, never dropped in silence."""
    text = raw.astype("string").str.strip()
    bad = raw.notna().to_numpy() & (text != "").fillna(False).to_numpy(dtype=bool) & numbers.isna().to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(text[bad])[:3])
        log.warning("column %r: %d of %d values are not numbers (e.g. %s): read as missing", column, int(bad.sum()),
                    len(raw), examples)


def load_power_csv(
    path: Path | str,
    *,
    timestamp_col: str,
    power_col: str,
    tz: str = "UTC",
    power_unit: str = "kW",
    raw: bool = False,
) -> pd.Series:
    """Read ``power_col`` (kW, or another power or energy-per-interval unit, :mod:`heliosgrid.units`) indexed by
    ``timestamp_col`` from a CSV, as kW.

    With ``raw`` the values are returned as read (UTC index, unparsable values NaN, no resampling), for
    :func:`heliosgrid.forecast.hygiene.clean_power_series`; else averaged onto the 15-min grid."""
    try:
        check_output_unit(power_unit)
    except ValueError as exc:
        raise ForecastInputError(str(exc)) from None
    power = read_csv_columns(path, timestamp_col, [power_col], tz)[power_col].rename(None)
    try:
        series = to_kw(power, power_unit)
    except ValueError as exc:  # energy per interval from a single timestamp
        raise ForecastInputError(str(exc)) from None
    return series if raw else to_15min(series)


def _data_file(name: str) -> Path:
    ref = resources.files("pvanalytics") / "data" / name
    with resources.as_file(ref) as p:
        if not Path(p).is_file():
            raise ForecastInputError(f"dataset file pvanalytics/data/{name} is not installed")
        return Path(p)


def _capacity_from_data(series: pd.Series) -> float:
    """AC capacity (kW) when the nameplate is unknown: the maximum observed power, rounded up to 0.1 kW."""
    return math.ceil(float(series.max()) * 10.0) / 10.0


def load_serf() -> PowerDataset:
    """NREL SERF East: 15-min AC power (W in the file), Golden CO, 2016-07-01 .. 2016-10-13."""
    raw = pd.read_csv(_data_file("serf_east_15min_ac_power.csv"))
    idx = pd.DatetimeIndex(pd.to_datetime(raw["measured_on"], utc=True))
    site = site_from_capacity("nrel-serf-east", 39.742, -105.1727, 1.0, altitude_m=1828.0, timezone="America/Denver",
                              surface_tilt_deg=25.0, surface_azimuth_deg=180.0)
    series, report = clean_power_series(pd.Series(raw["ac_power"].to_numpy(dtype=float) / 1000.0, index=idx), site)
    cap = _capacity_from_data(series)
    site = site_with_capacity(site, cap)
    return PowerDataset("serf", series, site, cap,
                        "NREL SERF East rooftop array, Golden CO (pvanalytics/data/serf_east_15min_ac_power.csv), "
                        "104 days of 15-min AC power; capacity = max observed power; orientation assumed 25°/180°.",
                        report)


def load_pvdaq_system50(start: str = "2013-05-01", end: str = "2013-09-01", name: str = "pvdaq50") -> PowerDataset:
    """NREL PVDAQ system 50 (Golden CO), inverter AC power 2, a window of the 2011-04..2013-12 file
    (default May–Aug 2013). The logger clock follows daylight saving time although the file's
    offset is a fixed −07:00: the hygiene step detects and corrects it."""
    raw = pd.read_parquet(_data_file("system_50_ac_power_2_full_DST.parquet"))
    idx = pd.DatetimeIndex(pd.to_datetime(raw["measured_on"], utc=True))
    series = pd.Series(raw["ac_power_2"].to_numpy(dtype=float) / 1000.0, index=idx)
    series = series[(series.index >= pd.Timestamp(start, tz="UTC")) & (series.index < pd.Timestamp(end, tz="UTC"))]
    site = site_from_capacity("pvdaq-system-50", 39.7406, -105.1775, 1.0, altitude_m=1800.0, timezone="America/Denver",
                              surface_tilt_deg=25.0, surface_azimuth_deg=180.0)
    series, report = clean_power_series(series, site)
    cap = _capacity_from_data(series)
    return PowerDataset(name, series, site_with_capacity(site, cap), cap,
                        "NREL PVDAQ system 50, Golden CO (pvanalytics/data/system_50_ac_power_2_full_DST.parquet), "
                        f"AC power 2, {start} .. {end}; capacity = max observed power; orientation assumed 25°/180°.",
                        report)


def site_with_capacity(site: SiteSpec, capacity_kw: float) -> SiteSpec:
    """``site`` (one inverter) with its AC capacity set to ``capacity_kw``."""
    inv = site.inverters[0]
    return site_from_capacity(site.site_id, site.latitude_deg, site.longitude_deg, capacity_kw,
                              altitude_m=site.altitude_m, timezone=site.timezone,
                              surface_tilt_deg=inv.surface_tilt_deg, surface_azimuth_deg=inv.surface_azimuth_deg)


def load_pvdaq50_winter() -> PowerDataset:
    """PVDAQ system 50 in winter (Nov 2012 – Feb 2013): low sun, short days, snow in Golden."""
    return load_pvdaq_system50("2012-11-01", "2013-03-01", name="pvdaq50_winter")


def load_pvdaq50_spring() -> PowerDataset:
    """PVDAQ system 50, Jan – Apr 2012: the logger switches to daylight saving time on 2012-03-11."""
    return load_pvdaq_system50("2012-01-15", "2012-05-01", name="pvdaq50_spring_dst")


DATASETS = {"serf": load_serf, "pvdaq50": load_pvdaq_system50, "pvdaq50_winter": load_pvdaq50_winter,
            "pvdaq50_spring_dst": load_pvdaq50_spring}


def load_dataset(name: str) -> PowerDataset:
    """A built-in dataset by name (see :data:`DATASETS`)."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ForecastInputError(f"unknown dataset {name!r}; built-in datasets: {', '.join(DATASETS)}") from None
    return loader()


__all__ = ["DATASETS", "PowerDataset", "load_dataset", "load_power_csv", "np", "to_15min"]
