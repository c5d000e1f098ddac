"""Input hygiene before any model sees a power series: what was wrong, how much, and what was done.

:func:`clean_power_series` takes a raw site AC power series (kW, tz-aware, any resolution up to hourly
means; coarser than 15 min is spread onto the 15-min grid by the clear-sky shape,
:mod:`heliosgrid.forecast.resolution`, ``input_step_min``) and returns the 15-min series the models use plus
a :class:`HygieneReport` with counts:

* ``duplicate_timestamps`` — repeated labels (the last value is kept);
* ``sentinels`` — non-finite values and logger fill values (≤ −999, or beyond ±``SENTINEL_CAPACITY_FACTOR``
  × capacity, e.g. −1e6): set missing;
* ``negative_night`` / ``negative_day`` — negative readings (inverter tare at night): set to 0. Mostly
  negative daylight values are an error that says which: generation booked as a negative export (plant-sized
  magnitudes), or no production at all (standby-sized, as at night);
* ``above_nameplate`` — 15-min values above ``ABOVE_NAMEPLATE_TOLERANCE`` × the given capacity; they are
  kept (over-sized inverters run above their AC rating) and the forecast clip level is raised to
  the observed 99.9th percentile (``effective_capacity_kw``);
* ``flatline_intervals`` — daylight values stuck at one non-zero value for ≥ ``FLATLINE_WINDOW`` intervals
  (a frozen logger; pvanalytics ``stale_values_diff``), excluding the clipping plateau: set missing;
* ``isolated_intervals`` — short stretches of data (< ``FRAGMENT_MAX_DAYS`` days of values) cut off
  from the rest by gaps of ≥ ``ISOLATION_GAP_DAYS`` days (a logger that sent a few readings months
  after the plant's data ended): dropped with a warning, so a backtest's test window is not placed
  on them;
* ``gap_intervals`` / ``longest_gap_h`` — missing 15-min daylight intervals on the grid (sun above
  ``LOGGER_ASLEEP_BELOW_DEG``), and the longest run of missing intervals that reaches into daylight;
  ``night_missing_intervals`` — missing intervals with the sun lower (many loggers stop reporting
  while the inverter sleeps: no data problem);
* ``clock`` — a shifted, DST-switching or drifting logger clock, detected from the midpoint of each day's
  production against the solar transit (whole-hour steps by pvanalytics ``shifts_ruptures``, a steady
  drift of ≥ 45 min by a Theil–Sen line); the timestamps of the shifted days are corrected and a
  warning says by how much and since when;
* ``dead_days`` — days whose whole daylight is at 0 kW (an outage, or snow cover): counted and warned about
  with their dates, kept;
* ``capacity`` — the given nameplate checked against the data (warnings only, never silent changes
  to the normalisation).
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.solar import STEP, ForecastInputError
from heliosgrid.physics.fleet import SiteSpec
from heliosgrid.timestamps import lmt_days

if TYPE_CHECKING:
    from heliosgrid.forecast.clock import ClockDrift

log = logging.getLogger(__name__)

SENTINEL_CAPACITY_FACTOR = 10.0
SENTINEL_FLOOR_KW = -999.0
#: More than this share of the positive values beyond the sentinel limit is a unit error (W given as kW), not sentinels.
UNIT_ERROR_SHARE = 0.05
#: A plant whose output never reaches this share of its given capacity has its power or capacity in the
#: wrong unit (MW read as kW: 0.1 %); an underperforming plant still reaches tens of percent.
FAR_BELOW_CAPACITY_SHARE = 0.01
ABOVE_NAMEPLATE_TOLERANCE = 1.02
#: Daylight negatives whose 95th percentile is below this share of the capacity are an inverter's standby
#: draw (no production), not generation booked as a negative export.
STANDBY_SHARE_OF_CAPACITY = 0.05
#: ... nor are daylight negatives whose 95th percentile is under this many times the night's median draw.
STANDBY_NIGHT_FACTOR = 3.0
FLATLINE_WINDOW = 6  # 1.5 h of identical 15-min values in daylight
#: A day's production window: intervals above this share of the day's maximum.
CLOCK_DAY_THRESHOLD = 0.05
#: Smallest whole-series clock offset corrected (smaller constant offsets are indistinguishable from
#: an east/west-facing array); changes between segments (DST) are corrected from 30 min on.
CLOCK_MIN_CONSTANT_SHIFT_MIN = 45
CLOCK_MIN_DAYS = 10
ISOLATION_GAP_DAYS = 7.0
#: Sun elevation (degrees) below which a missing interval is a logger asleep, not a gap: inverters
#: wake at a few degrees of elevation, and many loggers send nothing while they sleep.
LOGGER_ASLEEP_BELOW_DEG = 5.0
FRAGMENT_MAX_DAYS = 2.0
#: Sun elevation (degrees) above which a day's production is judged for :func:`_dead_days`.
DEAD_DAY_SUN_DEG = 15.0


@dataclass
class ClockSegment:
    """Days ``[since, until)`` whose timestamps ran ``shift_min`` minutes late (negative: early)."""

    since: str
    until: str
    shift_min: int


@dataclass
class HygieneReport:
    """Counts of every input problem found and fixed (JSON-ready via :meth:`as_dict`)."""

    # in the order of the checks (raw values, clock, flat-lines and gaps, capacity)
    n_input: int
    """Input rows (before de-duplication)."""
    duplicate_timestamps: int = 0
    """Rows dropped because their timestamp repeats an earlier row (the last one is kept)."""
    sentinels: int = 0
    """Logger sentinels (≤ ``SENTINEL_FLOOR_KW`` or > ``SENTINEL_CAPACITY_FACTOR`` × capacity), set to NaN."""
    negative_night: int = 0
    """Negative night-time values (inverter self-consumption), set to 0 kW."""
    negative_day: int = 0
    """Negative daylight values, set to 0 kW."""
    clock_shifts: list[ClockSegment] = field(default_factory=list)
    clock_corrected: bool = False
    clock_drift: ClockDrift | None = None
    """A steady drift of the logger clock (:class:`heliosgrid.forecast.clock.ClockDrift`), or None."""
    flatline_intervals: int = 0
    """Daylight intervals of a flat-line of ≥ ``FLATLINE_WINDOW`` identical non-zero values, set to NaN."""
    isolated_intervals: int = 0
    """Valid 15-min values dropped as isolated fragments (see the module doc)."""
    gap_intervals: int = 0
    """Missing 15-min daylight intervals (sun above ``LOGGER_ASLEEP_BELOW_DEG``) on the regular grid."""
    longest_gap_h: float = 0.0
    """Longest run of missing intervals that reaches into daylight, hours (a logger silent at night is no gap)."""
    night_missing_intervals: int = 0
    """Missing 15-min intervals with the sun below ``LOGGER_ASLEEP_BELOW_DEG`` (a logger that stops at night)."""
    capacity_kw: float | None = None
    above_nameplate: int = 0
    """Intervals above the given capacity (over-sized inverters), kept; forecasts clip at the effective capacity."""
    observed_max_kw: float = 0.0
    observed_p999_kw: float = 0.0
    effective_capacity_kw: float | None = None
    dead_days: int = 0
    """Days whose whole daylight is at 0 kW (an outage or snow cover): counted and warned about, kept."""
    input_step_min: float | None = None
    """Interval of the input when coarser than 15 min (30-min or hourly means, spread onto the 15-min grid)."""
    hourly_labels_at_end: bool = False
    """Hourly values read as stamped at the end of their hour (their profile ran ≥ 45 min behind the sun)."""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["clock"] = {"corrected": out.pop("clock_corrected"), "segments": out.pop("clock_shifts"),
                        "drift": out.pop("clock_drift")}
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)


def _night_mask(index: pd.DatetimeIndex, site: SiteSpec, below_deg: float = 0.0) -> np.ndarray:
    """True where the sun's apparent elevation is ≤ ``below_deg`` degrees."""
    from heliosgrid.physics import solar_position

    pos = solar_position(site, index)
    return np.asarray(pos["apparent_elevation"].to_numpy() <= below_deg)


def share_far_above(positive_kw: pd.Series, capacity_kw: float) -> float | None:
    """The share of the positive power values (kW as read) above ``SENTINEL_CAPACITY_FACTOR`` × the capacity
    (kW) when it is more than ``UNIT_ERROR_SHARE`` (the power in W read as kW), else None."""
    above = float((positive_kw > SENTINEL_CAPACITY_FACTOR * capacity_kw).mean()) if len(positive_kw) else 0.0
    return above if above > UNIT_ERROR_SHARE else None


def peak_far_below(positive_kw: pd.Series, capacity_kw: float) -> float | None:
    """The 99.9th percentile of ≥ 20 positive power values (kW as read) when it stays below
    ``FAR_BELOW_CAPACITY_SHARE`` of the capacity (kW; the power in MW read as kW, or a capacity in W), else None."""
    if len(positive_kw) < 20:
        return None
    peak = float(positive_kw.quantile(0.999))
    return peak if peak < FAR_BELOW_CAPACITY_SHARE * capacity_kw else None


def check_power_scale(positive_kw: pd.Series, capacity_kw: float) -> None:
    """The positive power values (kW as read) against the given capacity (kW): most of them far above it
    (:func:`share_far_above`) or all of them far below it (:func:`peak_far_below`) is a unit error, refused
    with the fix."""
    if len(positive_kw) == 0:
        return
    stats = f"their median is {float(positive_kw.median()):.4g}, their maximum {float(positive_kw.max()):.4g}"
    if (above := share_far_above(positive_kw, capacity_kw)) is not None:
        raise ForecastInputError(
            f"{above:.0%} of the positive values exceed {SENTINEL_CAPACITY_FACTOR:g} × the given capacity {capacity_kw:g} kW "
            f"({stats}): the power is probably in W, not kW (give --power-unit W), or the capacity is wrong")
    if peak_far_below(positive_kw, capacity_kw) is not None:
        raise ForecastInputError(
            f"the positive values stay below {FAR_BELOW_CAPACITY_SHARE:.0%} of the given capacity {capacity_kw:g} kW ({stats}): "
            "the power is probably in MW, not kW (give --power-unit MW), or the capacity is wrong")


def _raw_checks(raw: pd.Series, capacity_kw: float | None, report: HygieneReport) -> pd.Series:
    s = raw.astype(float).sort_index()
    dup = s.index.duplicated(keep="last")
    report.duplicate_timestamps = int(dup.sum())
    s = s[~dup]
    ref = capacity_kw if capacity_kw else float(np.nanquantile(s[s > 0], 0.999)) if (s > 0).any() else 1.0
    positive = s[np.isfinite(s.to_numpy()) & (s.to_numpy() > 0)]
    if capacity_kw:
        check_power_scale(positive, capacity_kw)
    bad = ~np.isfinite(s.to_numpy()) | (s.to_numpy() <= SENTINEL_FLOOR_KW) \
        | (np.abs(s.to_numpy()) > SENTINEL_CAPACITY_FACTOR * ref)
    report.sentinels = int((bad & ~s.isna().to_numpy()).sum())
    return s.where(~bad)


def _negatives(s: pd.Series, site: SiteSpec, report: HygieneReport, capacity_kw: float | None = None) -> pd.Series:
    neg = (s < 0).to_numpy()
    if neg.any():
        night = _night_mask(pd.DatetimeIndex(s.index[neg]), site)
        report.negative_night = int(night.sum())
        report.negative_day = int((~night).sum())
        positive = int((s > 0).sum())
        if report.negative_day > max(positive, 20):
            draw = s[neg]
            raise ForecastInputError(negative_daylight_diagnosis(-draw[~night], -draw[night], positive, capacity_kw))
    return s.clip(lower=0.0)


def negative_daylight_diagnosis(day_kw: pd.Series, night_kw: pd.Series, positive: int, capacity_kw: float | None) -> str:
    """Why most daylight power values are negative (magnitudes ``day_kw`` / ``night_kw``, kW > 0; ``positive``
    daylight values > 0): a meter that books generation as a negative export (daylight magnitudes of the
    plant's size, far above the night's draw), or no production at all — only the inverter's standby draw,
    as at night (an inverter that is off, an array under snow, a wrong column). The message for the user."""
    day_p95 = float(day_kw.quantile(0.95))
    night_median = float(night_kw.median()) if len(night_kw) else float("nan")
    export_like = not np.isfinite(night_median) or day_p95 >= STANDBY_NIGHT_FACTOR * night_median
    if capacity_kw:
        export_like = export_like and day_p95 >= STANDBY_SHARE_OF_CAPACITY * capacity_kw
    if export_like:
        return (f"{len(day_kw)} daylight values are negative and only {positive} positive: the power seems "
                "to be reported with the opposite sign (generation as a negative export); negate the column")
    return (f"{len(day_kw)} daylight values are negative and only {positive} positive, and they are small "
            f"(95 % within {day_p95:.3g} kW{'' if not capacity_kw else f' of a {capacity_kw:g} kW plant'}"
            f"{'' if not np.isfinite(night_median) else f'; median {night_median:.3g} kW at night'}): the series "
            "holds no production, only the inverter's standby draw — it was off or the array covered (snow) "
            "for this whole period, or this is not the AC power column")


def _flatlines(s: pd.Series, capacity_kw: float, report: HygieneReport) -> pd.Series:
    from pvanalytics.quality import gaps

    valid = s.dropna()
    if len(valid) < FLATLINE_WINDOW:
        return s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stale = gaps.stale_values_diff(valid, window=FLATLINE_WINDOW, atol=1e-6 * capacity_kw, mark="all")
    plateau = valid >= 0.97 * valid.max()  # inverter clipping is a legitimate flat line
    flagged = stale & (valid > 0.01 * capacity_kw) & ~plateau
    report.flatline_intervals = int(flagged.sum())
    return s.where(~flagged.reindex(s.index, fill_value=False))


def _isolated_fragments(s: pd.Series, report: HygieneReport) -> pd.Series:
    """``s`` (valid values only) without the stretches isolated by long gaps (module doc)."""
    if s.empty:
        return s
    breaks = np.flatnonzero(np.diff(s.index.asi8) >= pd.Timedelta(days=ISOLATION_GAP_DAYS).value) + 1
    bounds = [0, *breaks.tolist(), len(s)]
    stretches = list(itertools.pairwise(bounds))
    short = [(a, b) for a, b in stretches if (b - a) * STEP / pd.Timedelta(days=1) < FRAGMENT_MAX_DAYS]
    if not short or len(short) == len(stretches):
        return s
    keep = np.ones(len(s), dtype=bool)
    for a, b in short:
        keep[a:b] = False
        report.warn(f"{b - a} intervals from {s.index[a]} to {s.index[b - 1]} are cut off from the rest of the "
                    f"series by gaps of ≥ {ISOLATION_GAP_DAYS:g} days: dropped as an isolated fragment")
    report.isolated_intervals = int((~keep).sum())
    return s[keep]


def _gaps(s: pd.Series, site: SiteSpec, report: HygieneReport) -> None:
    grid = pd.date_range(s.index[0], s.index[-1], freq=STEP, tz="UTC")
    missing = s.reindex(grid).isna().to_numpy()
    night = _night_mask(grid + STEP / 2, site, LOGGER_ASLEEP_BELOW_DEG)
    report.gap_intervals = int((missing & ~night).sum())
    report.night_missing_intervals = int((missing & night).sum())
    if missing.any():
        edges = np.flatnonzero(np.diff(np.r_[0, missing.astype(int), 0]))
        runs = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if not night[a:b].all()]
        report.longest_gap_h = max((b - a for a, b in runs), default=0) / 4.0


def _dead_days(s: pd.Series, site: SiteSpec, capacity_kw: float, report: HygieneReport) -> None:
    """Count and warn about days whose whole daylight (sun above ``DEAD_DAY_SUN_DEG``, ≥ 80 % of it reported) is
    at 0 kW: an outage (a tripped inverter, grid or logger fault) or snow cover. Kept: the models see what
    happened; the report says it."""
    valid = s.dropna()
    if valid.empty:
        return
    lit = ~_night_mask(pd.DatetimeIndex(valid.index) + STEP / 2, site, DEAD_DAY_SUN_DEG)
    day = lmt_days(pd.DatetimeIndex(valid.index), site.longitude_deg)[lit]
    zero = pd.Series(valid.to_numpy()[lit] <= 1e-3 * capacity_kw, index=day)
    grid = pd.date_range(valid.index[0], valid.index[-1], freq=STEP, tz="UTC")
    grid_lit = ~_night_mask(grid + STEP / 2, site, DEAD_DAY_SUN_DEG)
    expected = pd.Series(1, index=lmt_days(grid, site.longitude_deg)[grid_lit])
    counts = zero.groupby(level=0).agg(["all", "size"]).join(expected.groupby(level=0).size().rename("expected"))
    dead = counts.index[counts["all"] & (counts["size"] >= 0.8 * counts["expected"])]
    report.dead_days = len(dead)
    if not len(dead):
        return
    runs = (pd.Series(dead).diff() != pd.Timedelta(days=1)).cumsum()
    for _, run in pd.Series(dead).groupby(runs.to_numpy()):
        report.warn(f"output is 0 kW through the daylight of {len(run)} day(s) from {run.iloc[0].date()} to "
                    f"{run.iloc[-1].date()} (an outage, or snow cover): kept; no forecast can foresee an outage")


def _capacity(s: pd.Series, capacity_kw: float | None, report: HygieneReport) -> None:
    valid = s.dropna()
    report.capacity_kw = capacity_kw
    report.observed_max_kw = float(valid.max()) if len(valid) else 0.0
    report.observed_p999_kw = float(valid.quantile(0.999)) if len(valid) else 0.0
    if capacity_kw is None:
        report.effective_capacity_kw = math.ceil(report.observed_max_kw * 10.0) / 10.0 or None
        return
    above = valid > ABOVE_NAMEPLATE_TOLERANCE * capacity_kw
    report.above_nameplate = int(above.sum())
    report.effective_capacity_kw = capacity_kw
    if report.observed_p999_kw > ABOVE_NAMEPLATE_TOLERANCE * capacity_kw:
        report.effective_capacity_kw = round(report.observed_p999_kw, 4)
        report.warn(f"output exceeds the given capacity {capacity_kw:g} kW in {report.above_nameplate} intervals "
                    f"(max {report.observed_max_kw:.3g} kW); forecasts are clipped at the observed 99.9th percentile "
                    f"{report.observed_p999_kw:.3g} kW, scores stay normalised by {capacity_kw:g} kW")
    days = (valid.index[-1] - valid.index[0]) / pd.Timedelta(days=1) if len(valid) else 0.0
    if days >= 14 and report.observed_max_kw < 0.4 * capacity_kw:
        report.warn(f"the plant never exceeded {report.observed_max_kw:.3g} kW = "
                    f"{report.observed_max_kw / capacity_kw:.0%} of the given capacity {capacity_kw:g} kW in "
                    f"{days:.0f} days: check the nameplate and the power unit (W vs kW; energy per interval, e.g. kWh "
                    "per 15 min, is --power-unit kWh)")


def _clock(s: pd.Series, site: SiteSpec, report: HygieneReport, correct: bool) -> pd.Series:
    """The location against the sun (an error beyond 4 h is refused), whole-hour clock shifts (DST, a
    wrong zone), then a steady drift, each reported and corrected."""
    from heliosgrid.forecast.clock import (
        check_location,
        correct_clock_drift,
        correct_clock_shifts,
        detect_clock_drift,
        detect_clock_shifts,
    )

    done = "timestamps corrected" if correct else "not corrected"
    check_location(s, site)
    segments = detect_clock_shifts(s, site)
    if segments:
        report.clock_shifts = segments
        if correct:
            s = correct_clock_shifts(s, segments, site.longitude_deg)
            report.clock_corrected = True
        for seg in segments:
            report.warn(f"logger clock runs {abs(seg.shift_min)} min {'late' if seg.shift_min > 0 else 'early'} "
                        f"from {seg.since} until {seg.until} (detected from solar noon); {done}")
    drift = detect_clock_drift(s, site)
    if drift is not None:
        report.clock_drift = drift
        if correct:
            s = correct_clock_drift(s, drift, site.longitude_deg)
            report.clock_corrected = True
        way = "falls behind" if drift.drift_min > 0 else "gains"
        report.warn(f"logger clock drifts: it {way} {abs(drift.min_per_day) * 60:.0f} s a day, "
                    f"{abs(drift.drift_min):.0f} min from {drift.since} until {drift.until} (right on {drift.anchor}; "
                    f"detected from solar noon); {done}")
    return s


def _spread_coarse(s: pd.Series, step_s: float, site: SiteSpec, report: HygieneReport) -> pd.Series:
    """30-min or hourly means onto the 15-min grid (:mod:`heliosgrid.forecast.resolution`), said in a warning."""
    from heliosgrid.forecast.clock import profile_lag_min
    from heliosgrid.forecast.resolution import input_step, spread_to_15min

    step = input_step(step_s)
    report.input_step_min = step.total_seconds() / 60.0
    report.warn(f"the data are {report.input_step_min:.0f}-min means: each is spread over its 15-min intervals by "
                "the clear-sky shape (its energy kept); the models and the backtest's actuals are 15-min values "
                "that follow that shape inside each interval")
    out = spread_to_15min(s, step, site)
    lag = profile_lag_min(out, site) if step == pd.Timedelta(hours=1) else None
    if lag is not None and lag >= CLOCK_MIN_CONSTANT_SHIFT_MIN and abs(lag - 60.0) < abs(lag):
        report.hourly_labels_at_end = True
        report.warn(f"as stamped, the hourly values run {lag:.0f} min behind the sun: read as stamped at the end "
                    "of their hour (the stamp of PVOutput-style exports), each moved to the hour before")
        out = spread_to_15min(s.set_axis(s.index - step), step, site)
    return out


def _on_grid(s: pd.Series, stamps: pd.DatetimeIndex, site: SiteSpec, report: HygieneReport) -> pd.Series:
    """The valid values ``s`` on the 15-min grid: means coarser than 15 min spread by the clear-sky shape,
    finer or 15-min ones averaged or read at the quarters' midpoints (:func:`heliosgrid.forecast.resolution.
    to_quarter_hours`, with the interval of the file's own stamps, rows without a value included)."""
    from heliosgrid.forecast.resolution import reads_at_midpoints, to_quarter_hours

    step_s = pd.Series(s.index).diff().dt.total_seconds().median()
    if step_s > STEP.total_seconds() + 1:
        return _spread_coarse(s, step_s, site, report)
    stamp_step_s = pd.Series(stamps.unique().sort_values()).diff().dt.total_seconds().median()
    step = pd.Timedelta(seconds=float(np.nanmin([step_s, stamp_step_s])))
    if reads_at_midpoints(pd.DatetimeIndex(s.index), step):
        report.warn(f"the data are {step.total_seconds() / 60:.4g}-min means that do not fit the quarter hours whole "
                    "(another interval, or stamps off the quarter hours): each 15-min value is read at its midpoint "
                    "between the file's own intervals")
    out = to_quarter_hours(s, step)
    if int(out.notna().sum()) < 2:
        raise ForecastInputError("the power series has fewer than 2 valid 15-min values (its values lie more than "
                                 "1.5 intervals apart)")
    return out


def clean_power_series(raw: pd.Series, site: SiteSpec, capacity_kw: float | None = None, *,
                       correct_clock: bool = True) -> tuple[pd.Series, HygieneReport]:
    """Clean a raw AC power series (kW, tz-aware index, resolution up to hourly means) and average it onto
    the 15-min UTC grid (interval-start labels; coarser input is spread onto it). Returns the series and the
    report of what was done."""
    if not isinstance(raw.index, pd.DatetimeIndex) or raw.index.tz is None:
        raise ForecastInputError("the power series needs a timezone-aware DatetimeIndex")
    report = HygieneReport(n_input=len(raw))
    s = _raw_checks(raw, capacity_kw, report)
    s.index = pd.DatetimeIndex(s.index).tz_convert("UTC")
    stamps = pd.DatetimeIndex(s.index)
    s = _negatives(s, site, report, capacity_kw).dropna()
    if len(s) < 2:
        raise ForecastInputError("the power series has fewer than 2 valid values after removing sentinels")
    s = _on_grid(s, stamps, site, report)
    s = _isolated_fragments(s.dropna(), report).asfreq(STEP)
    cap = capacity_kw or float(s.max())
    s = _flatlines(s, cap, report)
    s = _clock(s, site, report, correct_clock)
    s = s.dropna()
    _dead_days(s, site, cap, report)
    _gaps(s, site, report)
    _capacity(s, capacity_kw, report)
    return s.rename("ac_power_kw"), report
