"""The row checks of an operator's CSV before its readings are built (:func:`.csv_series.load_csv_series`): values
outside the reading contract quarantined, empty cells and clipped temperatures said, irradiance sampled coarser
than the power interpolated onto its rows, and rows without any value dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.contract.reading import MEASURE_RANGES
from heliosgrid.maintenance.csv_clock import IRRADIANCE_COLUMNS
from heliosgrid.maintenance.csv_spec import CsvSpec, SeriesInputError, as_given, column_names

MAX_QUARANTINE_SHARE = 0.5
"""More of a column's values out of range than this is a unit error (Kelvin, kW/m²), not fill values."""
MIN_PEAK_IRRADIANCE_W_M2 = 20.0
"""An irradiance column that never reaches this is in kW/m² (or dark): refused with the reason."""


def check_irradiance_unit(frame: pd.DataFrame, spec: CsvSpec) -> None:
    names = column_names(spec)
    for col in IRRADIANCE_COLUMNS:
        name = names[col]
        if col in frame and name is not None and float(frame[col].max()) < MIN_PEAK_IRRADIANCE_W_M2:
            raise SeriesInputError(f"column {name!r} never exceeds {float(frame[col].max()):g}: irradiance must be in "
                                   "W/m² (multiply kW/m² by 1000)")


def quarantine(frame: pd.DataFrame, spec: CsvSpec) -> tuple[pd.DataFrame, list[str]]:
    """Rows with a value outside the reading contract's ranges (:data:`MEASURE_RANGES`: a logger's
    fill value such as −99999 W, a POA of 5600 W/m²) dropped, as the consumer sends such a reading to
    the dead-letter topic; the warnings count them per column."""
    bad = pd.Series(False, index=frame.index)
    said: list[str] = []
    names = column_names(spec)
    for col in frame.columns:
        lo, hi = MEASURE_RANGES[col]
        scale, unit = as_given(col, spec)
        out = frame[col].notna() & ~frame[col].between(lo, hi)
        share = float(out.sum()) / max(int(frame[col].notna().sum()), 1)
        if share > MAX_QUARANTINE_SHARE:
            raise SeriesInputError(f"column {names[col]!r}: {share:.0%} of its values are outside {lo * scale:g} … "
                                   f"{hi * scale:g} {unit} (median {float(frame[col].median()) * scale:g}): check its unit")
        if out.any():
            said.append(f"{int(out.sum())} rows with {names[col]!r} outside the reading contract's {lo * scale:g} … "
                        f"{hi * scale:g} {unit} (first: {float(frame[col][out].iloc[0]) * scale:g})")
            bad |= out
    if not bad.any():
        return frame, []
    warning = (f"{int(bad.sum())} of {len(frame)} rows quarantined, as the consumer would (dead-letter): "
               + "; ".join(said))
    return frame[~bad].copy(), [warning]


def missing_values(frame: pd.DataFrame, spec: CsvSpec) -> list[str]:
    """A warning per power or irradiance column with empty cells: the rows are kept (their other
    columns still count) and the empty values are read as "no data" by the detectors, never as an
    inverter at 0 kW or a sensor at 0 W/m²."""
    meaning = {"ac_power_kw": "no data for the inverter (no trip is raised on them)",
               "poa_w_m2": "no irradiance data (not 0 W/m²)", "ghi_w_m2": "no irradiance data (not 0 W/m²)"}
    out = []
    for col, name in column_names(spec).items():
        if col not in meaning or name is None or col not in frame:
            continue
        missing = int(frame[col].isna().sum())
        if missing:
            out.append(f"{missing} of {len(frame)} rows ({100.0 * missing / len(frame):.1f} %) have no value in {name!r}: "
                       f"read as {meaning[col]}")
    return out


CLIPPED_SHARE = 0.05
"""A temperature column never below 0 °C with at least this share of its values at exactly 0.0 was clipped at 0."""


def clipped_temperatures(frame: pd.DataFrame, spec: CsvSpec) -> list[str]:
    """A warning per temperature column that looks clipped at 0 °C (no value below 0, ≥ :data:`CLIPPED_SHARE`
    of its values exactly 0.0): the satellite weather in the pvanalytics wheel (PVDAQ 50's PSM3 file, 23 % of
    its rows) and loggers with an unsigned range write every frost hour as 0 °C. The values are kept (0 °C
    still reads as freezing for the snow check), but the thermal model sees warmer modules on frosty days and
    the stuck-sensor check rightly reports the column flat at 0.0 through cold nights."""
    out = []
    for col, name in column_names(spec).items():
        if not col.endswith("_temp_c") or name is None or col not in frame:
            continue
        values = frame[col].dropna()
        if len(values) == 0 or float(values.min()) < 0.0:
            continue
        share = float((values == 0.0).mean())
        if share >= CLIPPED_SHARE:
            out.append(f"{name!r} is never below 0 °C and exactly 0.0 in {share:.0%} of its values: it looks clipped "
                       "at 0 °C (frost hours written as 0); kept as 0 °C, so a stuck_sensor alert on it at 0.0 through "
                       "cold nights is the clipping, and modules on frosty days are modelled warmer than they are")
    return out


COARSE_IRRADIANCE_STEP_RATIO = 1.5
"""An irradiance column whose values come this many times further apart than the power's (median step) is
sampled coarser than the power (interpolated, :func:`fill_coarse_irradiance`); otherwise its empty cells
are dropouts. A share of rows would not do: a 30-min GHI in a 15-min export has values in half the rows, and
in a little more than half of the rows with power when the power has gaps (PVDAQ 50 2013: 51 %)."""
COARSE_IRRADIANCE_MAX_GAP = pd.Timedelta(hours=1)


def median_step_ns(values: pd.Series) -> float:
    """Median time (ns) between the column's values; NaN with fewer than two."""
    stamps = pd.DatetimeIndex(values.dropna().index).asi8
    return float(np.median(np.diff(stamps))) if len(stamps) > 1 else float("nan")


def fill_coarse_irradiance(frame: pd.DataFrame, spec: CsvSpec) -> list[str]:
    """Irradiance sampled coarser than the power (a 30-min satellite GHI merged into a 1-min or 15-min logger
    export: values :data:`COARSE_IRRADIANCE_STEP_RATIO` times further apart than the power's) interpolated in time onto
    the power's rows, in place, across gaps of at most :data:`COARSE_IRRADIANCE_MAX_GAP` (longer ones stay
    empty); the warnings. Left empty, the 1-min buckets between two satellite values had no irradiance and
    a trip's expected energy was half counted (PVDAQ 50 at 1 min with its 30-min PSM3 GHI: trip energy
    error 56 %)."""
    out = []
    with_power = int(frame["ac_power_kw"].notna().sum())
    power_step = median_step_ns(frame["ac_power_kw"])
    for col, name in column_names(spec).items():
        if col not in IRRADIANCE_COLUMNS or name is None or col not in frame:
            continue
        before = int(frame[col].notna().sum())
        if before < 2 or not median_step_ns(frame[col]) >= COARSE_IRRADIANCE_STEP_RATIO * power_step:
            continue
        values = frame[col]
        filled = values.interpolate(method="time", limit_area="inside")
        stamps = values.dropna().index
        present = pd.Series(pd.DatetimeIndex(stamps), index=stamps).reindex(values.index)
        gap = present.bfill() - present.ffill()
        frame[col] = filled.where(values.notna() | (gap <= COARSE_IRRADIANCE_MAX_GAP))
        out.append(f"{name!r} has values in {before / max(with_power, 1):.0%} of the rows with power (sampled "
                   f"coarser than the power): interpolated in time onto the power's rows ({before} values → "
                   f"{int(frame[col].notna().sum())}; gaps over {COARSE_IRRADIANCE_MAX_GAP / pd.Timedelta(hours=1):g} h "
                   "stay empty)")
    return out


def without_empty_rows(frame: pd.DataFrame, spec: CsvSpec) -> pd.DataFrame:
    """``frame`` without the rows that have no value in any measured column: an export's time grid (a night of
    empty rows between the logger's readings), not a reading. Kept, such rows made a logger that sleeps at night
    look as if it reported at night, and every hole in the grid a communication gap."""
    cols = [c for c, name in column_names(spec).items() if name is not None and c in frame]
    return frame.dropna(how="all", subset=cols) if cols else frame
