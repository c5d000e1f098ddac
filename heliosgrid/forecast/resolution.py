"""Power series onto the 15-min grid the models use: coarser ones (30-min or hourly means, as many portals
and settlement exports give), and 7.5–15-min means that do not fit the quarter hours whole.

Each interval's mean power is spread over its quarter-hours in proportion to the clear-sky global
irradiance at each quarter's midpoint (Haurwitz, from the sun's zenith only): the clear-sky index is held
constant inside an interval. The interval's energy is kept, and the day keeps the sun's shape instead of a
staircase that would put hourly steps into every model's input. Quarter-hours of an interval with no clear
sky (night, the edge of dawn) share its mean equally. Quarters are capped at the largest interval mean, the
excess going to the interval's other quarters: an hour spent at the inverter's clip level stays flat there,
and every interval keeps its energy.

Labels are taken as interval starts, on the data's own phase (an hourly series stamped at :30 keeps its
:30). An export stamped at interval *ends* then runs one interval late, which the clock check of
:mod:`heliosgrid.forecast.hygiene` finds from solar noon (≥ 45 min) and corrects.

10- or 12-min means, and 15-min means stamped off the quarter hours, are read at the quarters' midpoints
(:func:`to_quarter_hours`); a drifting clock is undone with the same reader (:func:`read_at_midpoints`).

What this cannot do: put back the variability inside an interval. Backtest metrics on such a series score
15-min forecasts against these spread actuals; within an interval they follow the clear-sky shape.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib

from heliosgrid.forecast.solar import STEP, ForecastInputError
from heliosgrid.physics import solar_position
from heliosgrid.physics.fleet import SiteSpec

#: Coarsest input accepted: hourly means. Coarser data hold no shape of the day worth forecasting from.
MAX_STEP = pd.Timedelta(minutes=60)


def input_step(step_s: float) -> pd.Timedelta:
    """The interval of a series whose median step is ``step_s`` seconds, to the minute; refused beyond hourly."""
    step = pd.Timedelta(minutes=max(1, round(step_s / 60.0)))
    if step > MAX_STEP:
        raise ForecastInputError(f"data resolution is {step_s / 60:.0f} min; the forecasts need 15-min data or "
                                 f"interval means of at most {MAX_STEP.total_seconds() / 60:.0f} min")
    return step


def clearsky_shape(site: SiteSpec, times: pd.DatetimeIndex) -> np.ndarray:
    """Clear-sky GHI (W/m², Haurwitz) at ``times``: only its shape over an interval is used."""
    zenith = solar_position(site, times)["apparent_zenith"]
    return np.asarray(pvlib.clearsky.haurwitz(zenith)["ghi"].to_numpy(), dtype=float)


def spread_to_15min(power_kw: pd.Series, step: pd.Timedelta, site: SiteSpec) -> pd.Series:
    """Interval means ``power_kw`` (kW, UTC, interval-start labels, one interval = ``step``) as 15-min means.

    See the module docstring. Missing intervals stay missing (all their quarters are NaN).
    """
    coarse = power_kw.resample(step, label="left", closed="left", origin="start").mean()
    if coarse.empty:
        return coarse.rename(power_kw.name)
    grid = pd.date_range(coarse.index[0], coarse.index[-1] + step - STEP, freq=STEP, tz="UTC")
    owner = ((grid - coarse.index[0]) // step).to_numpy(dtype=np.int64)
    means = coarse.to_numpy(dtype=float)[owner]
    shape = clearsky_shape(site, grid + STEP / 2)
    shape_mean = pd.Series(shape).groupby(owner).transform("mean").to_numpy()
    weight = np.divide(shape, shape_mean, out=np.ones_like(shape), where=shape_mean > 0)
    values = coarse.to_numpy(dtype=float)
    cap = float(np.nanmax(values)) if np.isfinite(values).any() else np.inf
    return pd.Series(_capped(means * weight, owner, cap), index=grid, name=power_kw.name)


def _capped(quarters_kw: np.ndarray, owner: np.ndarray, cap_kw: float) -> np.ndarray:
    """``quarters_kw`` capped at ``cap_kw``, each interval's excess given to its quarters below the cap in
    proportion to their headroom: the interval's energy is kept (its mean is ≤ the cap, so the headroom suffices)."""
    capped = np.minimum(quarters_kw, cap_kw)
    excess = pd.Series(quarters_kw - capped).groupby(owner).transform("sum").to_numpy()
    headroom = cap_kw - capped
    room = pd.Series(headroom).groupby(owner).transform("sum").to_numpy()
    share = np.divide(headroom, room, out=np.zeros_like(headroom), where=room > 0)
    return np.asarray(capped + np.nan_to_num(excess) * share, dtype=float)


#: Share of stamps off their own grid above which a series' values are read onto the quarter hours at their
#: midpoints (:func:`to_quarter_hours`).
OFF_GRID_SHARE = 0.5


def read_at_midpoints(power_kw: pd.Series, grid: pd.DatetimeIndex, lag_ns: np.ndarray | int = 0,
                      step: pd.Timedelta = STEP) -> pd.Series:
    """Interval means ``power_kw`` (interval-start labels, intervals of ``step``, any phase) read at the
    midpoints of the quarters of ``grid``, each moved later by ``lag_ns``, by linear interpolation between the
    series' own interval midpoints. Quarters whose neighbours are more than 1.5 intervals apart (a missing
    value) or outside the data are NaN."""
    s = power_kw.dropna()
    own_half = int(step.value) // 2
    src = np.asarray(pd.DatetimeIndex(s.index).as_unit("ns").asi8, dtype=np.int64) + own_half
    want = np.asarray(grid.as_unit("ns").asi8, dtype=np.int64) + int(STEP.value) // 2 + np.asarray(lag_ns, dtype=np.int64)
    if len(src) == 0:
        return pd.Series(np.nan, index=grid, name=power_kw.name)
    values = np.interp(want, src, s.to_numpy(dtype=float))
    right = np.searchsorted(src, want, side="right")
    left_i, right_i = np.clip(right - 1, 0, None), np.clip(right, 0, len(src) - 1)
    exact = (right >= 1) & (src[left_i] == want)
    between = (right >= 1) & (right < len(src)) & (src[right_i] - src[left_i] <= 3 * own_half)
    return pd.Series(np.where(exact | between, values, np.nan), index=grid, name=power_kw.name)


def off_grid_share(index: pd.DatetimeIndex, step: pd.Timedelta = STEP) -> float:
    """Share of ``index``'s stamps that are not on the ``step`` grid of the day (quarter hours by default)."""
    if len(index) == 0:
        return 0.0
    return float(np.mean(np.asarray(index.as_unit("ns").asi8, dtype=np.int64) % int(step.value) != 0))


def averages_exactly(index: pd.DatetimeIndex, step: pd.Timedelta) -> bool:
    """Does every quarter hour hold whole intervals? The interval (to the second) divides 15 min and most
    stamps sit on its grid (5-min data at :00, :05, …; 15-min data on the quarter hours)."""
    whole = pd.Timedelta(seconds=round(step.total_seconds()))
    return whole > pd.Timedelta(0) and STEP % whole == pd.Timedelta(0) and off_grid_share(index, whole) <= OFF_GRID_SHARE


def reads_at_midpoints(index: pd.DatetimeIndex, step: pd.Timedelta) -> bool:
    """Are means of interval ``step`` (≤ 15 min) stamped at ``index`` read at the quarters' midpoints by
    :func:`to_quarter_hours` (intervals over 7.5 min that do not fit the quarter hours whole)?"""
    return bool(step > STEP / 2 and not averages_exactly(index, step))


def to_quarter_hours(power_kw: pd.Series, step: pd.Timedelta) -> pd.Series:
    """Means with an interval ``step`` ≤ 15 min onto the 15-min grid (UTC, interval-start labels).

    Data up to 7.5-min intervals, and data whose intervals fit whole into the quarter hours
    (:func:`averages_exactly`), are averaged into the quarter each value starts in. Other 7.5–15-min means —
    10-min data, or 15-min data mostly stamped off the quarter hours (a logger writing at :05, :20, …, or one
    whose clock drifts) — are read at each quarter's midpoint (:func:`read_at_midpoints`): averaged into the
    quarter they start in, each would run up to one interval early (ADR 0690).
    """
    if not reads_at_midpoints(pd.DatetimeIndex(power_kw.index), step):
        return power_kw.resample(STEP, label="left", closed="left").mean()
    s = power_kw.dropna()
    grid = pd.date_range(s.index[0].floor(STEP), s.index[-1].ceil(STEP), freq=STEP)
    return read_at_midpoints(s, grid, step=step)
