"""Replay forecast selection rules on stored backtests (the evidence of ADR 0370). Not run by ``make bench``.

``python -m bench._selection_replay collect DIR [CSV:CAPACITY_KW:LAT:LON ...]`` runs rolling-origin
backtests (no online bands) of PVDAQ system 50 in nine 110-day windows of 2011–2013, of SERF, and of
each CSV given (``timestamp``/``ac_power_kw`` columns, 3 windows), and stores each window's hold-out
and test forecasts of every member as a pickle in DIR.

``python -m bench._selection_replay replay DIR`` re-runs, on every stored window, the backtest's
re-selection at each issue time (:func:`heliosgrid.forecast.evaluation.reselected_ensemble_frame`'s
rule: hold-out plus the test forecasts matured before the issue time, last 21 days) with the current
``ensemble.weights_from_wide`` and prints the champion's improvement against the best of persistence,
climatology and Prophet chosen in hindsight, per window and bucket, and the summary
(mean, worst, cells ≥ 0, cells ≥ 10 %). To compare another rule, patch ``ensemble.weights_from_wide``
(or ``ensemble._choose``, the rule of the selected buckets).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast import ensemble
from heliosgrid.forecast.metrics import HORIZON_BUCKETS, bucket_of

PVDAQ50_ENDS = ("2011-08-15", "2011-11-15", "2012-03-20", "2012-06-20", "2012-09-20", "2013-01-20", "2013-04-20",
                "2013-07-20", "2013-10-20")
WINDOW_DAYS = 110
REFERENCES = ("persistence", "climatology", "prophet")


def _store(directory: Path, tag: str, series: pd.Series, site: Any, capacity_kw: float) -> None:
    from heliosgrid.forecast.backtest import run_backtest

    result = run_backtest(series, site, capacity_kw, fit_orientation=True, online_bands=False)
    hold, names = ensemble.holdout_wide(result.forecasters)
    f = result.frame
    scored = f[f["model"].isin(names) & (f["clearsky_kw"] > 0) & f["actual_kw"].notna()]
    test = scored.pivot_table(index=["issued_at", "target_ts", "horizon_min"], columns="model", values="p50_kw").reset_index()
    test = test.merge(scored.drop_duplicates(["issued_at", "target_ts"])[["issued_at", "target_ts", "actual_kw"]],
                      on=["issued_at", "target_ts"]).dropna(subset=names)
    test = test.assign(issued_at=pd.DatetimeIndex(test["issued_at"]).asi8, y_kw=test["actual_kw"],
                       bucket=bucket_of(test["horizon_min"].to_numpy()),
                       matured=(pd.DatetimeIndex(test["target_ts"]) + pd.Timedelta(minutes=15)).asi8)
    with (directory / f"{tag}.pkl").open("wb") as fh:
        pickle.dump({"hold": hold, "names": names, "test": test}, fh)
    print(tag, "stored", flush=True)


def _window(series: pd.Series, end: str) -> pd.Series:
    stop = pd.Timestamp(end, tz="UTC")
    return series[(series.index < stop) & (series.index >= stop - pd.Timedelta(days=WINDOW_DAYS))]


def collect(directory: Path, csvs: list[str]) -> None:
    """Backtest every window (module doc) and store its hold-out and test forecasts in ``directory``."""
    from heliosgrid.forecast.datasets import load_power_csv, load_pvdaq_system50, load_serf
    from heliosgrid.forecast.hygiene import clean_power_series
    from heliosgrid.forecast.solar import site_from_capacity

    directory.mkdir(parents=True, exist_ok=True)
    pvdaq = load_pvdaq_system50("2011-04-01", "2014-01-01")
    for end in PVDAQ50_ENDS:
        _store(directory, f"pvdaq50-{end}", _window(pvdaq.series, end), pvdaq.site, pvdaq.capacity_kw)
    serf = load_serf()
    _store(directory, "serf", serf.series, serf.site, serf.capacity_kw)
    for spec in csvs:
        path, cap, lat, lon = spec.split(":")
        raw = load_power_csv(path, timestamp_col="timestamp", power_col="ac_power_kw", raw=True)
        site = site_from_capacity(Path(path).stem, float(lat), float(lon), float(cap), timezone="UTC")
        series, _ = clean_power_series(raw, site, float(cap))
        last = series.index[-1]
        for k in range(3):
            end = (last - pd.Timedelta(days=56 * k) + pd.Timedelta(minutes=15)).isoformat()
            _store(directory, f"{Path(path).stem}-{k}", _window(series, end), site, float(cap))


def replay_window(stored: dict[str, Any], window_days: float = 21.0) -> dict[str, float]:
    """Improvement of the re-selected champion against the best reference (in hindsight) per bucket."""
    hold, names, test = stored["hold"], stored["names"], stored["test"]
    span = int(window_days * 86400e9)
    p50 = np.zeros(len(test))
    buckets = test["bucket"].to_numpy()
    for origin in np.unique(test["issued_at"]):
        data = pd.concat([hold, test[test["matured"] <= origin]], ignore_index=True)
        rows = (test["issued_at"] == origin).to_numpy()
        for b, w in ensemble.weights_from_wide(data[data["issued_at"] >= origin - span], names)[0].items():
            sel = rows & (buckets == b)
            for n, v in w.items():
                p50[sel] += v * test.loc[sel, n].to_numpy()
    y = test["y_kw"].to_numpy()
    out: dict[str, float] = {}
    for b in HORIZON_BUCKETS:
        sel = buckets == b
        if sel.sum() < 20:
            continue
        champion = float(np.sqrt(np.mean((p50[sel] - y[sel]) ** 2)))
        best = min(float(np.sqrt(np.mean((test.loc[sel, n].to_numpy() - y[sel]) ** 2))) for n in REFERENCES)
        out[b] = 1.0 - champion / best
    return out


def replay(directory: Path) -> dict[str, Any]:
    """Replay the current rule on every stored window; print and return the cells and the summary."""
    cells: list[tuple[str, str, float]] = []
    for path in sorted(directory.glob("*.pkl")):
        with path.open("rb") as fh:
            stored = pickle.load(fh)  # files this module wrote
        for b, gain in replay_window(stored).items():
            cells.append((path.stem, b, gain))
            print(f"{path.stem:32s} {b:7s} {gain:+.3f}")
    g = np.array([c[2] for c in cells])
    summary = {"cells": len(g), "mean": float(g.mean()), "worst": float(g.min()),
               "at_least_as_good": int((g >= 0).sum()), "at_least_10_pct": int((g >= 0.1).sum())}
    print(summary)
    return summary


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "collect":
        collect(Path(args[1]), args[2:])
    elif len(args) == 2 and args[0] == "replay":
        replay(Path(args[1]))
    else:
        print(__doc__)
        sys.exit(2)
