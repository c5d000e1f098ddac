"""Logger clock checks from solar noon: a shifted or DST-switching clock moves each day's production
window against the sun.

For every day with production, the midpoint of the intervals above ``CLOCK_DAY_THRESHOLD`` of the
day's maximum is compared with the solar transit, both in minutes of local mean solar time
(UTC + longitude × 4 min/°, so no day wraps around midnight). pvanalytics ``shifts_ruptures``
(binary segmentation, ruptures) splits the difference into periods and rounds each period's shift to
15 min. The most common shift near zero is the reference (orientation and the interval labels give
a small constant offset); periods that differ from it by ≥ 30 min (rounded to whole hours), or a whole series off by
≥ ``CLOCK_MIN_CONSTANT_SHIFT_MIN``, are reported and can be corrected.

A clock that *drifts* (a logger without time sync gains or loses seconds a day) moves the midpoint
steadily instead of in steps; whole-hour segments cannot see it (60 min over four months was missed).
:func:`detect_clock_drift` fits the bright days' offsets with a Theil–Sen line after the steps are
corrected and reports a drift of ≥ :data:`MIN_DRIFT_MIN` minutes; :func:`correct_clock_drift` reads each
interval's value back from the time the drifting clock showed then.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from heliosgrid.forecast.hygiene import CLOCK_DAY_THRESHOLD, CLOCK_MIN_CONSTANT_SHIFT_MIN, CLOCK_MIN_DAYS, ClockSegment
from heliosgrid.forecast.solar import STEP, ForecastInputError
from heliosgrid.physics.fleet import SiteSpec
from heliosgrid.timestamps import lmt_days, standard_zone

MIN_SEGMENT_SHIFT_MIN = 30
SHIFT_ROUND_MIN = 60
#: ruptures penalty: 10 finds every DST switch of PVDAQ system 50 (2011-2013); the default 20 misses two.
RUPTURES_PENALTY = 10


#: A day's production window says where the sun is only when its peak is at least this share of a producing
#: day's (the third-highest daily peak: a lone spike is one day; a quantile would be a standby day's peak when
#: the plant was off for most of the file): the sensor noise or standby draw of a plant that is off (0.014 kW on
#: a 5-kW home system for eleven months) has a "midpoint" anywhere.
PRODUCING_DAY_PEAK_SHARE = 0.1


def daily_noon_offsets(series_kw: pd.Series, site: SiteSpec) -> pd.Series:
    """Per UTC day (index: day in local mean solar time), minutes by which the production midpoint
    follows the solar transit (positive: the data's clock is late); days whose peak is below
    :data:`PRODUCING_DAY_PEAK_SHARE` of a producing day's are left out."""
    lmt_offset = pd.Timedelta(minutes=4.0 * site.longitude_deg)
    s = series_kw.dropna()
    s = s[s > 0]
    if s.empty:
        return pd.Series(dtype=float)
    local = s.copy()
    local.index = s.index + lmt_offset + STEP / 2  # interval midpoints, local mean time
    day = local.index.floor("D")
    peaks = local.groupby(day).max()
    day_max = pd.Series(peaks.reindex(day).to_numpy(), index=local.index)
    producing = day_max >= PRODUCING_DAY_PEAK_SHARE * float(peaks.nlargest(3).min())
    on = local[producing & (local >= CLOCK_DAY_THRESHOLD * day_max)]
    minutes = pd.Series(on.index.hour * 60.0 + on.index.minute + on.index.second / 60.0, index=on.index)
    g = minutes.groupby(on.index.floor("D"))
    mid = (g.min() + g.max()) / 2.0
    mid = mid[g.count() >= 8]  # at least 2 h of production
    days = pd.DatetimeIndex(mid.index)
    # equation of time (minutes, Spencer 1971): solar transit = 12:00 − EoT in local mean time
    b = 2.0 * np.pi * (days.dayofyear.to_numpy() - 1) / 365.0
    eot = 229.18 * (0.000075 + 0.001868 * np.cos(b) - 0.032077 * np.sin(b) - 0.014615 * np.cos(2 * b)
                    - 0.040849 * np.sin(2 * b))
    # the first/last intervals above the threshold are one interval inside the window on each side
    return pd.Series(mid.to_numpy() - (720.0 - eot), index=days)


def detect_clock_shifts(series_kw: pd.Series, site: SiteSpec) -> list[ClockSegment]:
    """Periods whose logger clock is shifted (see the module docstring); [] when none or too little data."""
    from pvanalytics.quality.time import shifts_ruptures

    offsets = daily_noon_offsets(series_kw, site)
    if len(offsets) < CLOCK_MIN_DAYS:
        return []
    clean = offsets.clip(-180, 180)
    event = pd.Series(np.round(clean.to_numpy() + 720.0).astype(int), index=offsets.index)
    reference = pd.Series(np.full(len(event), 720, dtype=int), index=offsets.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, shifts = shifts_ruptures(event, reference, period_min=min(CLOCK_MIN_DAYS, len(event)), shift_min=15,
                                       prediction_penalty=RUPTURES_PENALTY)
    shifted = shifts.reindex(offsets.index).ffill().bfill()
    period = shifted.ne(shifted.shift()).cumsum()  # change points from ruptures, levels from our medians
    level = clean.groupby(period).transform("median")
    base = _reference_level(level)
    # logger clock errors are whole hours (DST, a wrong zone; the bias of the production midpoint
    # varies by ±15 min over the seasons, which rounding to 30 min would turn into false half hours).
    # The level closest to the sun is itself off when ≥ 45 min from it (a wrong zone, hourly means stamped
    # at their end): then every period is shifted by it too, DST periods included.
    base_shift = round(base / SHIFT_ROUND_MIN) * SHIFT_ROUND_MIN if abs(base) >= CLOCK_MIN_CONSTANT_SHIFT_MIN else 0
    rel = ((level - base) / SHIFT_ROUND_MIN).round().astype(int) * SHIFT_ROUND_MIN + base_shift
    rel = _settle_ends(rel, clean - base + base_shift)
    segments: list[ClockSegment] = []
    for _, part in rel.groupby(rel.ne(rel.shift()).cumsum()):
        shift = int(part.iloc[0])
        if abs(shift) >= MIN_SEGMENT_SHIFT_MIN:
            segments.append(_segment(part.index, shift))
    return segments


END_MIN_DAYS = 3
"""Fewest days at a series' end that may keep a clock setting of their own (:func:`_settle_ends`)."""


def _settle_ends(rel: pd.Series, offset: pd.Series) -> pd.Series:
    """``rel`` (each day's clock shift, minutes) with the days at either end of the series that follow another
    of its settings moved to it. ruptures places no change within ``CLOCK_MIN_DAYS`` of the ends, so a file
    that starts a few days before a DST switch had those days shifted with the summer (the 7 kW plant's
    Pacific file from 5 Mar 2016: 8 days of standard time moved by an hour). ``offset``: each day's noon
    offset on the same scale. At each end the head of 3 to ``CLOCK_MIN_DAYS − 1`` days that other setting
    fits best (summed |offset − setting| against the end's own) takes it, when its median is within
    ``SHIFT_ROUND_MIN / 2`` of it."""
    out = rel.copy()
    settings = {0, *(int(v) for v in rel.unique())}
    for order in (slice(None), slice(None, None, -1)):
        days, off = out.index[order], offset.to_numpy()[order]
        own = int(out.loc[days[0]])
        best: tuple[float, int, int] = (0.0, 0, own)
        for other in settings - {own}:
            gain = np.cumsum(np.abs(off - own) - np.abs(off - other))[: CLOCK_MIN_DAYS - 1]
            k = int(np.argmax(gain)) + 1
            if k >= END_MIN_DAYS and gain[k - 1] > best[0] and abs(float(np.median(off[:k])) - other) <= SHIFT_ROUND_MIN / 2:
                best = (float(gain[k - 1]), k, other)
        if best[1]:
            out.loc[days[: best[1]]] = best[2]
    return out


def _segment(days: pd.Index, shift_min: int) -> ClockSegment:
    return ClockSegment(days[0].date().isoformat(), (days[-1] + pd.Timedelta(days=1)).date().isoformat(), shift_min)


def _reference_level(level: pd.Series) -> float:
    """The period level (minutes) closest to zero: the clock setting taken as right."""
    levels = level.unique()
    return float(levels[np.argmin(np.abs(levels))])


def shifted_back(index: pd.DatetimeIndex, segments: list[ClockSegment], longitude_deg: float) -> pd.DatetimeIndex:
    """``index`` with the stamps of each shifted period (its local-mean-time days) moved back by its shift."""
    days = lmt_days(index, longitude_deg)
    moved = index.copy()
    for seg in segments:
        sel = (days >= pd.Timestamp(seg.since, tz="UTC")) & (days < pd.Timestamp(seg.until, tz="UTC"))
        moved = moved.where(~sel, moved - pd.Timedelta(minutes=seg.shift_min))
    return moved


def correct_clock_shifts(series_kw: pd.Series, segments: list[ClockSegment], longitude_deg: float) -> pd.Series:
    """Move the timestamps of each shifted period back by its shift (values labelled on overlapping
    intervals at a transition are averaged)."""
    s = series_kw.copy()
    s.index = shifted_back(pd.DatetimeIndex(s.index), segments, longitude_deg)
    return s.sort_index().resample(STEP).mean()


#: Smallest total drift (minutes over the series) reported and corrected. The production midpoint's own bias
#: moves with the seasons (orientation, horizon shading): on PVDAQ system 50 (2011–2013, DST corrected) a
#: Theil–Sen line through the bright days (:func:`bright_days`) of any 31–365-day window finds up to 32 min of
#: spurious "drift" (31-day windows: p90 8 min; 110-day: p90 24 min; ADR 0690).
MIN_DRIFT_MIN = 45.0
#: Days of daily offsets needed before a drift is fitted.
MIN_DRIFT_DAYS = 2 * CLOCK_MIN_DAYS
#: A bright day produces at least this share of the most productive day within ±:data:`BRIGHT_HALF_WINDOW_DAYS`.
BRIGHT_DAY_SHARE = 0.8
BRIGHT_HALF_WINDOW_DAYS = 7
#: Bright days needed to fit the drift through them alone (else every day with production is used).
MIN_BRIGHT_DAYS = CLOCK_MIN_DAYS


def bright_days(series_kw: pd.Series, longitude_deg: float) -> pd.DatetimeIndex:
    """Days (local mean solar time, as :func:`daily_noon_offsets`) whose energy is ≥ :data:`BRIGHT_DAY_SHARE` of
    the most productive day within ±:data:`BRIGHT_HALF_WINDOW_DAYS`: (nearly) clear days. Their production
    midpoint follows the sun within ±10 min; a cloudy or snow-covered morning or afternoon moves a dull day's
    by up to ±45 min (PVDAQ 50, December 2012)."""
    s = series_kw.dropna().clip(lower=0.0)
    energy = s.groupby(lmt_days(pd.DatetimeIndex(s.index), longitude_deg)).sum()
    energy = energy[energy > 0]
    best = energy.rolling(2 * BRIGHT_HALF_WINDOW_DAYS + 1, center=True, min_periods=1).max()
    return pd.DatetimeIndex(energy.index[energy >= BRIGHT_DAY_SHARE * best])


@dataclass
class ClockDrift:
    """A logger clock that steadily falls behind (``drift_min`` > 0: its timestamps run later and later
    against the sun) or gains: ``drift_min`` minutes from ``since`` to ``until`` (``min_per_day`` a day),
    right on ``anchor`` (the end of the period whose fitted offset is nearer zero)."""

    since: str
    until: str
    drift_min: float
    min_per_day: float
    anchor: str


def detect_clock_drift(series_kw: pd.Series, site: SiteSpec) -> ClockDrift | None:
    """A steady drift of the daily production midpoint against the solar transit (Theil–Sen slope of
    :func:`daily_noon_offsets` on the :func:`bright_days` when there are ≥ :data:`MIN_BRIGHT_DAYS`, else on
    every day; its 95 % interval excluding 0), ≥ :data:`MIN_DRIFT_MIN` over the series; None otherwise.
    Run it on a series whose whole-hour shifts (:func:`detect_clock_shifts`) are corrected."""
    from scipy.stats import theilslopes

    offsets = daily_noon_offsets(series_kw, site).clip(-180, 180)
    if len(offsets) < MIN_DRIFT_DAYS:
        return None
    span = float((offsets.index[-1] - offsets.index[0]) / pd.Timedelta(days=1))
    bright = offsets.index.intersection(bright_days(series_kw, site.longitude_deg))
    fitted = offsets.loc[bright] if len(bright) >= MIN_BRIGHT_DAYS else offsets
    days = ((fitted.index - offsets.index[0]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    slope, intercept, lo, hi = theilslopes(fitted.to_numpy(), days, alpha=0.95)
    if lo <= 0.0 <= hi or abs(slope) * span < MIN_DRIFT_MIN:
        return None
    start, end = intercept, intercept + slope * span
    anchor_day = 0.0 if abs(start) <= abs(end) else span
    first, last = offsets.index[0], offsets.index[-1]
    return ClockDrift(first.date().isoformat(), (last + pd.Timedelta(days=1)).date().isoformat(),
                      round(float(slope * span), 1),
                      round(float(slope), 3), (first if anchor_day == 0.0 else last).date().isoformat())


def correct_clock_drift(series_kw: pd.Series, drift: ClockDrift, longitude_deg: float) -> pd.Series:
    """The 15-min series as a clock without the drift would have written it: each interval's value is read
    from ``series_kw`` (15-min means) at the time the drifting clock showed then, by linear interpolation
    between interval midpoints. The drift grows steadily, ``min_per_day`` from solar noon of the anchor day.
    Moving the stamps and re-averaging them onto the grid instead put half the values one interval early
    (7.5 min on average; ADR 0690). Gaps stay gaps."""
    from heliosgrid.forecast.resolution import read_at_midpoints

    s = series_kw.dropna()
    if s.empty:
        return s
    grid = pd.date_range(s.index[0], s.index[-1], freq=STEP)
    noon = pd.Timestamp(drift.anchor, tz="UTC") + pd.Timedelta(hours=12)
    lmt = pd.Timedelta(minutes=4.0 * longitude_deg)
    elapsed_d = np.asarray(((grid + lmt) - noon) / pd.Timedelta(days=1), dtype=float)
    return read_at_midpoints(s, grid, np.round(drift.min_per_day * elapsed_d * 60e9).astype(np.int64))


#: The production's daily profile may lag the sun's by up to this much before the location or the
#: timestamps' zone is taken to be wrong, minutes. Clear-sky POA of a vertical west wall at 37° N lags by
#: 150 min, a 40° west roof by 105 min; with a logger an hour off (DST) that is 210 min. A wrong longitude
#: sign at |longitude| ≥ 30°, or US naive UTC read as local time, is ≥ 4 h.
MAX_PROFILE_LAG_MIN = 240


def profile_lag_min(series_kw: pd.Series, site: SiteSpec) -> float | None:
    """Minutes by which the mean daily production profile (by UTC time of day) lags the sun's (mean
    ``max(0, sin elevation)`` at the site over the same days), from their circular cross-correlation;
    None without ≥ 3 days of positive values. Unlike the noon offsets it sees errors of many hours (a
    longitude with the wrong sign, naive UTC times read as local time)."""
    s = series_kw.dropna()
    s = s[s.index.floor("D").isin(s[s > 0].index.floor("D"))]
    if s[s > 0].index.floor("D").nunique() < 3:
        return None
    slot = (s.index.hour * 4 + s.index.minute // 15).to_numpy()
    prof = np.bincount(slot, weights=s.clip(lower=0).to_numpy(), minlength=96) / np.maximum(np.bincount(slot, minlength=96), 1)
    days = pd.DatetimeIndex(s.index.floor("D").unique())
    days = days[np.linspace(0, len(days) - 1, min(len(days), 24)).astype(int)]
    times = pd.DatetimeIndex([d + pd.Timedelta(minutes=15 * k + 7.5) for d in days for k in range(96)])
    from heliosgrid.physics import solar_position

    sun = np.clip(np.sin(np.radians(solar_position(site, times)["apparent_elevation"].to_numpy())), 0.0, None)
    sun_prof = sun.reshape(len(days), 96).mean(axis=0)
    a, b = prof - prof.mean(), sun_prof - sun_prof.mean()
    corr = [float(np.dot(np.roll(b, k), a)) for k in range(96)]
    lag = int(np.argmax(corr)) * 15
    return float(lag - 1440 if lag > 720 else lag)


ZONE_HINT_TOLERANCE_MIN = 90.0
"""A lag within this of what a zone mistake at the given longitude produces names that mistake (minutes;
a DST-keeping logger and the array's orientation move the lag by up to ≈ 1.5 h)."""


def off_the_sun(what: str, lag_min: float, latitude_deg: float, longitude_deg: float) -> str:
    """The message for ``what`` (e.g. "the production") lagging the sun by ``lag_min`` (> 0: behind): the
    longitude or the timestamps' zone is wrong. Where the lag is the one a zone mistake gives at this
    longitude (local time read as UTC: 4 min per degree east, the other way for UTC read as local time),
    the message names it and the ``--tz`` to give; a wrong longitude can give the same lag, so both stay."""
    text = (f"{what} runs {abs(lag_min) / 60:.1f} h {'behind' if lag_min > 0 else 'ahead of'} the sun at latitude "
            f"{latitude_deg:g}, longitude {longitude_deg:g}: check the longitude (east positive, west negative) and "
            "the time zone of the timestamps (--tz for times without an offset)")
    local_read_as_utc = 4.0 * longitude_deg
    if abs(lag_min - local_read_as_utc) <= ZONE_HINT_TOLERANCE_MIN:
        text += (f". That lag is what local times read as UTC give at this longitude: if the timestamps are local "
                 f"time, give --tz with the site's zone, e.g. --tz {standard_zone(longitude_deg)} for local "
                 "standard time (a logger that keeps daylight saving time is then corrected by the clock check) "
                 "or its IANA name (America/Denver, Europe/Madrid)")
    elif abs(lag_min + local_read_as_utc) <= ZONE_HINT_TOLERANCE_MIN:
        text += ". That lag is what UTC times read as local time give at this longitude: if so, give --tz UTC"
    return text


def check_location(series_kw: pd.Series, site: SiteSpec) -> None:
    """Refuse a series whose production lags the sun at the given location by more than
    :data:`MAX_PROFILE_LAG_MIN`: the longitude (east positive) or the timestamps' time zone is wrong."""
    lag = profile_lag_min(series_kw, site)
    if lag is not None and abs(lag) > MAX_PROFILE_LAG_MIN:
        raise ForecastInputError(off_the_sun("the production", lag, site.latitude_deg, site.longitude_deg))
