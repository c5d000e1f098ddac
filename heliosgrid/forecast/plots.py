"""Backtest figure: where a person looks first.

Top: actual power, the champion's P50 and P10–P90 band and persistence's P50 for the shortest lead
and for day-ahead leads (last ``days`` of the test window). Bottom left: nRMSE skill against smart
persistence per horizon bucket for every model (champion highlighted). Bottom right: P10–P90 coverage
per bucket with the 75–85 % target, the mean band width (fraction of capacity) and the pinball skill
against climatological quantiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.metrics import HORIZON_BUCKETS

if TYPE_CHECKING:
    from heliosgrid.forecast.backtest import BacktestResult


def plot_backtest(result: BacktestResult, path: Path, models: list[str] | None = None, days: float = 6.0) -> Path:
    """Write the PNG (see the module docstring) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(models or [m for m in (result.champion, "persistence") if m]))
    fig = plt.figure(figsize=(13, 10))
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 1.1])
    series_axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, :])]
    _series_panels(series_axes, result, models, days)
    _skill_panel(fig.add_subplot(grid[2, 0]), result)
    _band_panel(fig.add_subplot(grid[2, 1]), result)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _series_panels(axes: list[Any], result: BacktestResult, models: list[str], days: float) -> None:
    frame = result.frame
    lo = result.test_end - pd.Timedelta(days=days)
    panels = ((0, "shortest lead (intraday)"), (1440, "day-ahead (lead ≥ 24 h)"))
    for ax, (min_lead, title) in zip(axes, panels, strict=True):
        actual_drawn = False
        for i, name in enumerate(models):
            m = frame[(frame["model"] == name) & (frame["horizon_min"] >= min_lead) & (frame["target_ts"] >= lo)]
            m = m.sort_values("horizon_min").drop_duplicates("target_ts").sort_values("target_ts")
            if m.empty:
                continue
            if not actual_drawn:
                ax.plot(m["target_ts"], m["actual_kw"], color="black", lw=1.2, label="actual")
                actual_drawn = True
            color = "tab:blue" if i == 0 else "tab:orange"
            ax.plot(m["target_ts"], m["p50_kw"], color=color, lw=1.0, label=f"{name} P50")
            if i == 0:
                ax.fill_between(m["target_ts"], m["p10_kw"], m["p90_kw"], color=color, alpha=0.25,
                                label=f"{name} P10–P90")
        ax.set_title(title)
        ax.set_ylabel("AC power (kW)")
        ax.legend(loc="upper right", fontsize=8)


def _skill_panel(ax: Any, result: BacktestResult) -> None:
    buckets = list(HORIZON_BUCKETS)
    names = list(result.metrics)
    width = 0.8 / max(1, len(names))
    x = np.arange(len(buckets))
    for i, name in enumerate(names):
        vals = [result.metrics[name].get(b, {}).get("skill", np.nan) for b in buckets]
        champ = name == result.champion
        ax.bar(x + i * width, vals, width, label=name, edgecolor="black" if champ else None, linewidth=1.5 if champ else 0)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(x + 0.4 - width / 2, [f"{b}\n{result.champion_by_bucket.get(b, '')[:18]}" for b in buckets], fontsize=8)
    ax.set_ylabel("skill vs persistence (1 − RMSE/RMSE_p)")
    ax.set_title(f"skill per horizon bucket (champion {result.champion}: outlined)")
    ax.legend(fontsize=7, ncol=2)


def _band_panel(ax: Any, result: BacktestResult) -> None:
    buckets = list(HORIZON_BUCKETS)
    m = result.metrics.get(result.champion or "", {})
    x = np.arange(len(buckets))
    cov = [m.get(b, {}).get("coverage_p10_p90", np.nan) for b in buckets]
    width = [m.get(b, {}).get("interval_width_rel", np.nan) for b in buckets]
    pin = [m.get(b, {}).get("pinball_skill_vs_climatology", np.nan) for b in buckets]
    ax.axhspan(0.75, 0.85, color="tab:green", alpha=0.15, label="coverage target 80 ± 5 %")
    lo = [m.get(b, {}).get("coverage_ci90_lo", np.nan) for b in buckets]
    hi = [m.get(b, {}).get("coverage_ci90_hi", np.nan) for b in buckets]
    # The whisker is the coverage's 90 % interval over the test days: a few weeks of weather days.
    whisker = np.abs(np.array([np.subtract(cov, lo), np.subtract(hi, cov)], dtype=float))
    ax.bar(x - 0.2, cov, 0.4, color="tab:blue", label="P10–P90 coverage (90 % interval over the days)",
           yerr=np.nan_to_num(whisker), capsize=3, error_kw={"lw": 0.8})
    ax.bar(x + 0.2, width, 0.4, color="tab:gray", label="mean width / capacity")
    ax.plot(x, pin, "o-", color="tab:red", label="pinball skill vs climatology quantiles")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(x, buckets)
    # Headroom above 1.0 for the legend: placed over the bars it hid the day-ahead pinball marker.
    ax.set_ylim(min(-0.3, np.nanmin(pin) - 0.05) if np.isfinite(np.nanmin(pin)) else -0.3, 1.4)
    ax.set_title(f"{result.champion}: calibration and sharpness per bucket")
    ax.legend(fontsize=7, loc="upper center", ncol=2)
