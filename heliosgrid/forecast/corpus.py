"""The backtest corpus: every real PV power series shipped in the installed wheels.

Each entry is either backtested (enough days for a 21-day rolling-origin test after ≥ 7 days of
training, and a known location) or listed with the reason it cannot be, so the corpus report always
accounts for every file. Nothing is downloaded. Files under ``pvanalytics/data`` (pvanalytics 0.2.2):

* backtested — ``serf_east_15min_ac_power.csv`` (NREL SERF East, 104 days, summer–autumn 2016);
  ``system_50_ac_power_2_full_DST.parquet`` (NREL PVDAQ system 50, 2011–2013) as three windows:
  summer 2013, winter 2012/13 (snow season) and Jan–Apr 2012 (the logger switches to DST);
* listed only — series of 2–6 days (too short for a 48-h rolling-origin backtest) or without a
  published location: ``serf_east_1min_ac_power.csv``, ``serf_west_15min.csv``, ``nrel_RSF_II.csv``,
  ``nrel_1axis_tracker_mesa_ac_power.csv``, ``snow_data.csv``, ``ac_power_inv_7539.csv``,
  ``ac_power_inv_2173*.csv``; ``pvlib_data_shift.csv`` is daily energy, not power. ``pvlib/data``
  holds irradiance/weather files (TMY) and module/inverter libraries, no measured PV power.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from heliosgrid.forecast.datasets import (
    PowerDataset,
    _data_file,
    load_pvdaq50_spring,
    load_pvdaq50_winter,
    load_pvdaq_system50,
    load_serf,
)


@dataclass(frozen=True)
class CorpusEntry:
    """One real series: a loader when it can be backtested, else the reason it cannot."""

    name: str
    file: str
    loader: Callable[[], PowerDataset] | None = None
    reason: str = ""


CORPUS: tuple[CorpusEntry, ...] = (
    CorpusEntry("serf", "pvanalytics/data/serf_east_15min_ac_power.csv", load_serf),
    CorpusEntry("pvdaq50", "pvanalytics/data/system_50_ac_power_2_full_DST.parquet", load_pvdaq_system50),
    CorpusEntry("pvdaq50_winter", "pvanalytics/data/system_50_ac_power_2_full_DST.parquet", load_pvdaq50_winter),
    CorpusEntry("pvdaq50_spring_dst", "pvanalytics/data/system_50_ac_power_2_full_DST.parquet", load_pvdaq50_spring),
    CorpusEntry("serf_east_1min", "pvanalytics/data/serf_east_1min_ac_power.csv", reason="short"),
    CorpusEntry("serf_west", "pvanalytics/data/serf_west_15min.csv", reason="short"),
    CorpusEntry("rsf2", "pvanalytics/data/nrel_RSF_II.csv", reason="short"),
    CorpusEntry("mesa_tracker", "pvanalytics/data/nrel_1axis_tracker_mesa_ac_power.csv", reason="short"),
    CorpusEntry("snow", "pvanalytics/data/snow_data.csv", reason="short; location not published (utility data)"),
    CorpusEntry("inv7539", "pvanalytics/data/ac_power_inv_7539.csv", reason="short; location not published (PV Fleets)"),
    CorpusEntry("inv2173", "pvanalytics/data/ac_power_inv_2173.csv",
                reason="31 days, min-max normalised, location not published (PV Fleets)"),
)

_TIME_COLS = ("measured_on", "timestamp", "Timestamp")


def series_days(entry: CorpusEntry) -> float:
    """Days spanned by the file of ``entry`` (first to last timestamp)."""
    name = entry.file.rsplit("/", 1)[-1]
    path = _data_file(name)
    frame = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
    col = next((c for c in _TIME_COLS if c in frame.columns), frame.columns[0])
    ts = pd.to_datetime(frame[col], utc=True, format="mixed")
    return float((ts.max() - ts.min()) / pd.Timedelta(days=1))


def skipped_entry(entry: CorpusEntry) -> dict[str, object]:
    """JSON of a listed-only entry: file, days and the reason."""
    days = series_days(entry)
    reason = entry.reason.replace("short", f"{days:.1f} days: too short for a 48-h rolling-origin backtest "
                                           "(≥ 7 days of training + test days)")
    return {"file": entry.file, "days": round(days, 2), "skipped": reason}


def summary_rows(corpus_json: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    """One row per (series, bucket): champion's choice and nRMSE vs the best reference, coverage with its
    90 % interval over the test days, width, pinball skill vs climatological quantiles."""
    rows: list[dict[str, object]] = []
    for name, entry in corpus_json.items():
        bt = entry.get("backtest")
        if not isinstance(bt, dict):
            continue
        champ = bt["champion"]
        for bucket, cmp in (bt.get("champion_vs_best_reference") or {}).items():
            m = bt["models"][champ][bucket]
            rows.append({"series": name, "bucket": bucket, "champion": bt["champion_by_bucket"].get(bucket),
                         "champion_nrmse": cmp["champion_nrmse"], "best_reference": cmp["best_reference"],
                         "best_reference_nrmse": cmp["best_reference_nrmse"], "improvement": cmp["improvement"],
                         "coverage_p10_p90": m["coverage_p10_p90"], "coverage_ci90": [m.get("coverage_ci90_lo"),
                                                                                      m.get("coverage_ci90_hi")],
                         "interval_width_rel": m["interval_width_rel"],
                         "pinball_skill_vs_climatology": m["pinball_skill_vs_climatology"],
                         "band_pinball_skill_vs_climatology": m.get("band_pinball_skill_vs_climatology")})
    return rows
