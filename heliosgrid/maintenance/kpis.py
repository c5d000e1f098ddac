"""Daily KPIs per inverter and per site (views of migration 0030) and their Python reader.

Definitions (IEC 61724-1 style; full formulas in ``db/migrations/0030_maintenance_kpis.sql`` and
``docs/maintenance.md``): energy (kWh), specific yield (kWh/kWp), performance ratio, performance
ratio corrected to 25 °C cell temperature, availability (share of daylight 15-minute buckets with
production and an 'ok' status), expected and lost energy (kWh). Day = the site's local day.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

_ENERGY_KPI_COLUMNS = (
    "energy_kwh",
    "specific_yield_kwh_kwp",
    "performance_ratio",
    "performance_ratio_temp_corr",
    "availability",
    "expected_energy_kwh",
    "lost_energy_kwh",
)
"""KPI columns both views share, in view order."""
DEVICE_COLUMNS = (
    "site_id",
    "device_id",
    "local_day",
    *_ENERGY_KPI_COLUMNS,
    "poa_irradiation_kwh_m2",
    "daylight_buckets",
    "producing_buckets",
    "unavailable_buckets",
    "unknown_buckets",
    "data_quality",
)
SITE_COLUMNS = ("site_id", "local_day", "inverters", *_ENERGY_KPI_COLUMNS, "data_quality")


def daily_kpis(
    conn: psycopg.Connection,
    *,
    level: Literal["device", "site"] = "site",
    site_id: str | None = None,
    start_day: date | None = None,
    end_day: date | None = None,
) -> list[dict[str, Any]]:
    """Daily KPI rows for ``level`` in ``[start_day, end_day]`` (site-local days, inclusive)."""
    if level not in ("device", "site"):
        raise ValueError(f"level must be 'device' or 'site', got {level!r}")
    if start_day and end_day and end_day < start_day:
        raise ValueError(f"end_day {end_day} is before start_day {start_day}")
    view, cols = (
        ("maintenance_kpi_device_day", DEVICE_COLUMNS) if level == "device" else ("maintenance_kpi_site_day", SITE_COLUMNS)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"""SELECT {", ".join(cols)} FROM {view}
                WHERE (%(site)s::text IS NULL OR site_id = %(site)s)
                  AND (%(lo)s::date IS NULL OR local_day >= %(lo)s) AND (%(hi)s::date IS NULL OR local_day <= %(hi)s)
                ORDER BY {"site_id, device_id, local_day" if level == "device" else "site_id, local_day"}""",
            {"site": site_id, "lo": start_day, "hi": end_day},
        ).fetchall()
    return [dict(r) for r in rows]
