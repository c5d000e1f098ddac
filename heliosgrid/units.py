"""Units an operator's file may give its values in (no heavy imports: the CLI parsers read it)."""

from __future__ import annotations

#: Power units of an operator's file, and how many kW one of them is.
POWER_UNITS_KW: dict[str, float] = {"W": 0.001, "kW": 1.0, "MW": 1000.0}
