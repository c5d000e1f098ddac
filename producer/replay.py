"""Replay of real measurements as a sensor stream: NREL SERF files or any CSV.

Datasets come from installed wheels (nothing is downloaded): ``pvanalytics/data`` holds NREL's
SERF (Golden, Colorado) inverter data. Timestamps are shifted by a whole number of days so the
first day of each file (each site) lands on the chosen start date, never later than now — the
local time of day (and with it the sun's position) is preserved. ``seq`` is minutes since the epoch of the shifted timestamp, as
for simulated data. Source units are converted to the contract's (W → kW).

Datasets (``--dataset``):

* ``serf`` — ``serf_west_15min.csv`` (Jan 2022, 5 days, 15 min: AC, DC, POA, ambient and module
  temperature) as ``nrel-serf-west-inv01`` (site ``nrel-serf-west``) and
  ``serf_east_15min_ac_power.csv`` (Jul–Oct 2016, 104 days, 15 min, AC only) as
  ``nrel-serf-east-inv01`` (site ``nrel-serf-east``): one site per file.
* ``serf-east-1min`` — ``serf_east_1min_ac_power.csv`` (2 days, 1 min, AC only).

The files' clocks are Mountain Standard Time (UTC−07:00 all year, as their offsets say).
Site and device metadata below are approximate (capacities from the data's maxima,
orientation inferred from the daily profile): they are not published system metadata.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.contract.reading import ReadingV1
from heliosgrid.csvread import missing_columns, read_csv_any, resolve_column
from heliosgrid.physics import DeviceSpec, SiteSpec
from heliosgrid.simulation import READING_COLUMNS, SEQ_UNIT
from heliosgrid.timestamps import parse_timestamps

SERF_WEST_SITE_ID = "nrel-serf-west"
SERF_EAST_SITE_ID = "nrel-serf-east"
SERF_TZ = "Etc/GMT+7"  # POSIX sign convention: UTC−07:00, no daylight saving time
CONTRACT_FIELDS = tuple(
    name for name in ReadingV1.model_fields if name not in {"schema_version", "device_id", "site_id", "ts", "seq"}
)


def _serf_sites() -> dict[str, SiteSpec]:
    """One site per file (the arrays are separate systems on the SERF roof).

    Orientation: west — tilt 20°, azimuth 180° (its measured POA drives the detectors; the
    orientation only sets the clear-sky daylight mask); east — tilt 43°, azimuth 164°, fitted by
    pvanalytics ``infer_orientation_fit_pvwatts`` to its AC power on clear PSM3 periods
    (:mod:`heliosgrid.maintenance.realdata`).
    """
    west = DeviceSpec("nrel-serf-west-inv01", SERF_WEST_SITE_ID, "inverter", 20.0, 180.0, 6.3, 5.7, -0.004, 0.96)
    east = DeviceSpec("nrel-serf-east-inv01", SERF_EAST_SITE_ID, "inverter", 42.9, 164.4, 6.0, 5.5, -0.004, 0.96)
    where = (39.742, -105.178, 1800.0)
    tz = "America/Denver"
    return {
        SERF_WEST_SITE_ID: SiteSpec(SERF_WEST_SITE_ID, "NREL SERF west (Golden, Colorado) — replay", *where, tz, (west,)),
        SERF_EAST_SITE_ID: SiteSpec(SERF_EAST_SITE_ID, "NREL SERF east (Golden, Colorado) — replay", *where, tz, (east,)),
    }


@dataclass
class ReplaySource:
    """Readings to replay (columns of the simulator's readings, original timestamps) and the
    fleet (sites/devices) to register so the consumer accepts them."""

    name: str
    fleet: list[SiteSpec]
    readings: pd.DataFrame


def _data_file(name: str) -> Any:
    return importlib.resources.files("pvanalytics") / "data" / name


def _status(ac_kw: pd.Series) -> pd.Series:
    return pd.Series(np.where(ac_kw.fillna(0.0) > 0.0, "ok", "standby"), index=ac_kw.index, dtype=object)


def _frame(device_id: str, site_id: str, ts: pd.DatetimeIndex, values: Mapping[str, pd.Series | np.ndarray]) -> pd.DataFrame:
    out = pd.DataFrame({"device_id": device_id, "site_id": site_id, "ts": ts.tz_convert("UTC")})
    for name in CONTRACT_FIELDS:
        if name == "inverter_status":
            continue
        raw = values.get(name)
        out[name] = np.asarray(raw, dtype=float) if raw is not None else np.nan
    if "ac_power_kw" in values:
        out["inverter_status"] = _status(out["ac_power_kw"]).to_numpy()
    else:
        out["inverter_status"] = None
    return out


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.dropna(subset=["ts"]).drop_duplicates(subset=["device_id", "ts"], keep="first")
    frame = frame.sort_values(["ts", "device_id"], kind="stable").reset_index(drop=True)
    frame["seq"] = ((frame["ts"] - pd.Timestamp(0, tz="UTC")) // SEQ_UNIT).astype("int64")
    return frame[list(READING_COLUMNS)]


def load_serf(variant: str = "serf") -> ReplaySource:
    """Load a SERF dataset from the installed pvanalytics wheel (see the module docstring)."""
    sites = _serf_sites()
    if variant == "serf":
        with _data_file("serf_west_15min.csv").open("rb") as fh:
            west = pd.read_csv(fh, index_col=0, parse_dates=True)
        west.index = pd.DatetimeIndex(west.index).tz_localize(SERF_TZ)
        with _data_file("serf_east_15min_ac_power.csv").open("rb") as fh:
            east = pd.read_csv(fh, index_col=0)
        east.index = pd.to_datetime(east.index, utc=True)
        frames = [
            _frame("nrel-serf-west-inv01", SERF_WEST_SITE_ID, pd.DatetimeIndex(west.index), {
                "poa_w_m2": west["poa_irradiance__771"],
                "ambient_temp_c": west["ambient_temp__780"],
                "module_temp_c": west["module_temp_1__781"],
                "dc_power_kw": west["dc_power__772"] / 1000.0,
                "ac_power_kw": west["ac_power__773"] / 1000.0,
            }),
            _frame("nrel-serf-east-inv01", SERF_EAST_SITE_ID, pd.DatetimeIndex(east.index), {
                "ac_power_kw": east["ac_power"] / 1000.0,
            }),
        ]
    elif variant == "serf-east-1min":
        with _data_file("serf_east_1min_ac_power.csv").open("rb") as fh:
            east1 = pd.read_csv(fh, index_col=0)
        east1.index = pd.to_datetime(east1.index, utc=True)
        frames = [_frame("nrel-serf-east-inv01", SERF_EAST_SITE_ID, pd.DatetimeIndex(east1.index), {
            "ac_power_kw": east1["ac_power__752"] / 1000.0,
        })]
    else:
        raise ValueError(f"unknown dataset {variant!r}; expected one of {', '.join(DATASETS)}")
    frame = _finish(pd.concat(frames, ignore_index=True))
    return ReplaySource(variant, [sites[sid] for sid in sorted(set(frame["site_id"]))], frame)


DATASETS: dict[str, Callable[[], ReplaySource]] = {
    "serf": lambda: load_serf("serf"),
    "serf-east-1min": lambda: load_serf("serf-east-1min"),
}


def parse_mapping(items: list[str] | None) -> dict[str, tuple[str, float]]:
    """Parse ``FIELD=COLUMN[*SCALE]`` items (e.g. ``ac_power_kw=ac_power*0.001``)."""
    out: dict[str, tuple[str, float]] = {}
    for item in items or []:
        field, sep, rest = item.partition("=")
        if not sep or not rest:
            raise ValueError(f"--map expects FIELD=COLUMN[*SCALE], got {item!r}")
        if field not in CONTRACT_FIELDS or field == "inverter_status":
            raise ValueError(f"--map: {field!r} is not a contract measure; expected one of "
                             f"{', '.join(f for f in CONTRACT_FIELDS if f != 'inverter_status')}")
        column, star, scale_text = rest.partition("*")
        try:
            scale = float(scale_text) if star else 1.0
        except ValueError:
            raise ValueError(f"--map {item!r}: scale {scale_text!r} is not a number") from None
        out[field] = (column, scale)
    if not out:
        raise ValueError("--csv needs at least one --map FIELD=COLUMN[*SCALE]")
    return out


def load_csv(
    path: Path,
    *,
    device_id: str,
    site_id: str,
    mapping: Mapping[str, tuple[str, float]],
    ts_column: str,
    timezone: str = "UTC",
) -> ReplaySource:
    """Load one device's readings from a CSV file with a column mapping (see :func:`parse_mapping`).

    Timestamps without an offset are read in ``timezone``. The device must be registered in
    the fleet (``heliosgrid fleet sync``) or the consumer rejects it as ``unknown_device``;
    the returned ``fleet`` is empty for that reason.
    """
    if not path.is_file():
        raise ValueError(f"CSV file {path} does not exist")
    raw = read_csv_any(path)  # CsvReadError is a ValueError with the reason
    ts_column = resolve_column(raw, ts_column)
    problem = missing_columns(path, raw, [ts_column, *(c for c, _ in mapping.values())], ts_column)
    if problem:
        raise ValueError(problem)
    index = parse_timestamps(raw[ts_column], timezone, ts_column, drop_unparsable=True)
    if index.isna().all():
        raise ValueError(f"{path}: column {ts_column!r} holds no parsable timestamps")
    values = {
        field: pd.to_numeric(raw[column], errors="coerce").to_numpy() * scale for field, (column, scale) in mapping.items()
    }
    frame = _frame(device_id, site_id, index, values)
    return ReplaySource(path.name, [], _finish(frame))


def shift_to_start(readings: pd.DataFrame, start: pd.Timestamp, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Shift each site's timestamps by whole days so its first reading's UTC date becomes ``start``'s date.

    One shift per site (per source file): files years apart each land on ``start`` instead of
    the later one landing years after the earlier. Never in the future: a site whose data would
    end after ``now`` (default: the current time) is moved back by whole days until its last
    reading is at or before ``now``. Time of day is kept (the data stays consistent with the
    sun). ``seq`` is recomputed.
    """
    if readings.empty:
        return readings
    now = pd.Timestamp.now(tz="UTC") if now is None else now.tz_convert("UTC")
    out = readings.copy()
    target = start.tz_convert("UTC").normalize()
    for _site, rows in out.groupby("site_id", sort=False):
        ts = rows["ts"]
        days = (target - ts.min().normalize()).days
        overshoot = ts.max() + pd.Timedelta(days=days) - now
        if overshoot > pd.Timedelta(0):
            days -= int(np.ceil(overshoot / pd.Timedelta(days=1)))
        out.loc[rows.index, "ts"] = ts + pd.Timedelta(days=days)
    out["seq"] = ((out["ts"] - pd.Timestamp(0, tz="UTC")) // SEQ_UNIT).astype("int64")
    return out
