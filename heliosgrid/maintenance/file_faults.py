"""What is wrong in a real file itself, found from its data alone (not by the detectors).

The real-data evaluation (:mod:`heliosgrid.maintenance.real_eval`) counts every alert on a "clean" real
series as false — except where the file itself shows the fault, plainly, without any model:

* **gaps** (:func:`file_gaps`): no reading (for a series with AC power: no AC power) for more than 1.5
  reporting intervals. The plant's logger was silent, and ``comm_gap`` is right to report it.
* **frozen irradiance sensor** (:func:`file_freezes`): the POA value repeated to the last digit over at least
  :data:`FREEZE_MIN` and :data:`FREEZE_MIN_READINGS` readings in daylight (above :data:`FREEZE_LIGHT_W_M2`). A
  working sensor never repeats its value for half an hour in daylight; a frozen logger channel does.
  captest's example plant data (5-min, two met stations) has station 2 frozen at 342.5 W/m² from 16:00 to 17:15
  one afternoon while station 1 and the inverters follow the sun down: ``stuck_sensor`` is right to report it.

An alert of the matching type over such a span (:func:`true_on_file`) is a true alert, counted apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from heliosgrid.maintenance.realdata import RealSeries

Span = tuple[pd.Timestamp, pd.Timestamp]
FREEZE_MIN = pd.Timedelta(minutes=30)
FREEZE_MIN_READINGS = 3
FREEZE_LIGHT_W_M2 = 20.0
SLACK = pd.Timedelta(minutes=30)


class SpanAlert(Protocol):
    """What :func:`true_on_file` needs of an alert."""

    fault_type: str
    started_at: pd.Timestamp
    last_seen_at: pd.Timestamp


def file_gaps(series: RealSeries) -> list[Span]:
    """Spans where the file has no reading (with AC power: no AC power) for > 1.5 reporting intervals."""
    r = series.readings
    if "ac_power" in series.sensors:
        r = r[r["ac_power_kw"].notna()]
    ts = r["ts"].drop_duplicates().sort_values().reset_index(drop=True)
    step = pd.Timedelta(seconds=series.cadence_s)
    gap = np.flatnonzero((ts.diff() > 1.5 * step).to_numpy())
    return [(pd.Timestamp(ts.iloc[i - 1]) + step, pd.Timestamp(ts.iloc[i])) for i in gap]


def file_freezes(series: RealSeries) -> list[Span]:
    """Spans where the series' own POA sensor repeats one daylight value exactly (see the module docstring)."""
    if "poa" not in series.sensors:
        return []
    r = series.readings[["ts", "poa_w_m2"]].dropna().drop_duplicates("ts").sort_values("ts")
    poa = r["poa_w_m2"].to_numpy(dtype=float)
    ts = pd.DatetimeIndex(r["ts"])
    same = np.r_[False, poa[1:] == poa[:-1]] & (poa > FREEZE_LIGHT_W_M2)
    run_id = np.cumsum(~same)  # a run: its first reading and the repeats after it
    out: list[Span] = []
    for rid in np.unique(run_id[same]):
        idx = np.flatnonzero(run_id == rid)
        start, end = ts[idx[0]], ts[idx[-1]] + pd.Timedelta(seconds=series.cadence_s)
        if len(idx) >= FREEZE_MIN_READINGS and end - start >= FREEZE_MIN:
            out.append((start, end))
    return out


def file_faults(series: RealSeries) -> dict[str, list[Span]]:
    """The file's own faults by the alert type that is right to report them."""
    return {"comm_gap": file_gaps(series), "stuck_sensor": file_freezes(series)}


def overlaps(alert: SpanAlert, spans: list[Span]) -> bool:
    """``alert`` overlaps one of ``spans`` (± :data:`SLACK`)."""
    return any(alert.started_at < end + SLACK and alert.last_seen_at > start - SLACK for start, end in spans)


def true_on_file(alert: SpanAlert, faults: dict[str, list[Span]]) -> bool:
    """An alert over one of the file's own faults of its type: true, not false."""
    return overlaps(alert, faults.get(alert.fault_type, []))
