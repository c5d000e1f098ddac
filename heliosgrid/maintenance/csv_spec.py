"""What an operator's CSV holds and what the plant is (:class:`CsvSpec`), and the error that says what is wrong
with it; shared by :mod:`.csv_series` (the loader) and :mod:`.csv_cleaning` (its row checks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from heliosgrid.units import POWER_UNITS_KW


class SeriesInputError(ValueError):
    """The CSV or its description cannot be used; the message says why, precisely."""


@dataclass(frozen=True)
class CsvSpec:
    """Where the values are in the CSV and what the plant is."""

    path: Path
    timestamp_col: str
    ac_col: str
    latitude_deg: float
    longitude_deg: float
    tilt_deg: float | None
    azimuth_deg: float | None
    """Array orientation (°; azimuth east of north; a tracker's axis); ``None``: inferred (:mod:`.csv_orientation`)."""
    poa_col: str | None = None
    ghi_col: str | None = None
    module_temp_col: str | None = None
    ambient_temp_col: str | None = None
    power_unit: str = "kW"
    tz: str | None = None
    """IANA zone of naive timestamps and of the site's days; ``None``: naive times are UTC and the
    site's days follow the longitude's standard zone (:func:`heliosgrid.timestamps.standard_zone`): the daily
    maintenance runs then cut the data at local midnight, not in the afternoon, and faults are injected in
    local daylight, whatever zone the timestamps were written in."""
    altitude_m: float = 0.0
    dc_kw: float | None = None
    ac_kw: float | None = None
    name: str | None = None
    tracking: str | None = None
    """``single_axis``: a single-axis tracker; ``None``: a fixed array, or a tracker when the data say so."""


UNITS = {"ac_power_kw": "kW", "poa_w_m2": "W/m²", "ghi_w_m2": "W/m²", "module_temp_c": "°C", "ambient_temp_c": "°C"}
"""Unit of each contract column."""


def column_names(spec: CsvSpec) -> dict[str, str | None]:
    """Contract column → the operator's column name (None: not in the file)."""
    return {"ac_power_kw": spec.ac_col, "poa_w_m2": spec.poa_col, "ghi_w_m2": spec.ghi_col,
            "module_temp_c": spec.module_temp_col, "ambient_temp_c": spec.ambient_temp_col}


def as_given(col: str, spec: CsvSpec) -> tuple[float, str]:
    """Scale and unit in which ``col``'s values are quoted back to the operator (AC power in W if given so)."""
    if col == "ac_power_kw" and spec.power_unit in POWER_UNITS_KW:
        return 1.0 / POWER_UNITS_KW[spec.power_unit], spec.power_unit
    return 1.0, UNITS[col]  # energy per interval is quoted back as the mean power it stands for

