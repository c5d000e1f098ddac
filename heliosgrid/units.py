"""Units an operator's file may give its AC output in (no heavy imports at module level: the CLI parsers
read it).

Power (W, kW, MW) is a mean over each row's interval. Energy per interval (Wh, kWh, MWh: a portal's "energy
per 15 min") is turned into the mean power of the interval with the file's nominal interval, the median step
between its timestamps: ``kW = kWh × 3600 / step_s``. Both are labelled as the file labels them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Power units of an operator's file, and how many kW one of them is.
POWER_UNITS_KW: dict[str, float] = {"W": 0.001, "kW": 1.0, "MW": 1000.0}
#: Energy-per-interval units of an operator's file, and how many kWh one of them is.
ENERGY_UNITS_KWH: dict[str, float] = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0}
#: Every unit ``--power-unit`` takes.
OUTPUT_UNITS: tuple[str, ...] = (*POWER_UNITS_KW, *ENERGY_UNITS_KWH)


def check_output_unit(unit: str) -> None:
    """``ValueError`` naming the units for one that is not in :data:`OUTPUT_UNITS`."""
    if unit not in OUTPUT_UNITS:
        raise ValueError(f"power unit must be one of {', '.join(OUTPUT_UNITS)}, got {unit!r}")


def to_kw(values: pd.Series, unit: str) -> pd.Series:
    """``values`` (indexed by time) in ``unit`` (:data:`OUTPUT_UNITS`) as mean power in kW. Raises
    ``ValueError`` naming the units for an unknown one, or for energy per interval without two distinct
    timestamps to take the interval from."""
    import numpy as np

    if unit in POWER_UNITS_KW:
        return values * POWER_UNITS_KW[unit]
    check_output_unit(unit)
    step_s = interval_s(values)
    if not np.isfinite(step_s):
        raise ValueError(f"energy per interval ({unit}) needs at least two distinct timestamps to know the interval")
    return values * ENERGY_UNITS_KWH[unit] * 3600.0 / step_s


def interval_s(values: pd.Series) -> float:
    """The file's nominal interval (s): the median step between its distinct timestamps."""
    import numpy as np

    stamps = np.unique(np.asarray(values.index.asi8))
    return float(np.median(np.diff(stamps))) / 1e9 if len(stamps) > 1 else float("nan")
