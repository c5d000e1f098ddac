"""Logger clocks of an operator's CSV checked against the sun, column by column.

A plant's CSV often mixes clocks: AC power from a logger whose wall clock follows daylight saving
time (PVDAQ system 50 logs so under a fixed −07:00 label), next to satellite GHI stamped in UTC. The
detectors compare power with irradiance bucket by bucket, so a one-hour offset between the two turns
every clear morning into an ``inverter_trip`` (power still 0 while the sun is up) — on six months of
PVDAQ 50 with its PSM3 GHI, 7 of the 8 false trips began after the March DST switch.

Four checks, each reported with a warning that says by how much and since when:

1. **Steps within a column** (DST switches, a reset clock): the daily production (or irradiance)
   midpoint against solar noon, split into periods by
   :func:`heliosgrid.forecast.clock.detect_clock_shifts` (the forecast hygiene's check), and each
   shifted period moved back. A whole-series constant offset is *not* corrected per column: the
   orientation (a west-facing array or POA sensor) shifts the midpoint just as much.
2. **A constant offset of a GHI column against the sun** of whole hours, after step 1: a horizontal
   sensor (or a satellite's GHI) has no orientation, so its daily midpoint is solar noon; a median
   offset of ≥ :data:`GHI_MIN_OFFSET_MIN` is a clock (the whole summer of a logger on daylight saving
   time under a fixed standard-time label; naive UTC read with the wrong ``--tz``). PVDAQ 50, May–Aug
   2012, exported so: power and GHI both 60 min late; uncorrected, the tilt came out 32° instead of
   45° and string outages were raised on 1.46 clean site-days in 30.
3. **A constant offset between power and irradiance** of whole hours, after steps 1–2: the power
   logger's clock is moved to the irradiance's. Power and the irradiance of its own array
   share the orientation, so their midpoints agree on a plant whose clocks agree.
4. **Interval labels** (:func:`align_power_to_poa`, once the plane-of-array irradiance is known): a
   logger that labels its 15-min means at the interval's end puts the power one interval late
   against an irradiance labelled at the start (or a satellite's instants). The power is tried at
   −2…+2 intervals against the POA; the lag whose day-normalised power/POA ratio scatters least
   wins if it cuts the scatter at lag 0 by ≥ :data:`LAG_MIN_GAIN`. PVDAQ 50 2012 H1 with its PSM3
   GHI: median |deviation| 7.7 % at lag 0, 9.6 % and 11.8 % one interval either side; the same
   file with the power labelled one interval late: 7.7 % at +1, 9.6 % at 0 (found, moved back).

Temperature columns follow the AC power's corrections (assumed: the same logger). Checks 1 and 2
need ``CLOCK_MIN_DAYS`` days with production; shorter files are left as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.forecast.hygiene import CLOCK_MIN_DAYS, ClockSegment
from heliosgrid.physics.fleet import SiteSpec
from heliosgrid.timestamps import lmt_days

POWER_COLUMNS = ("ac_power_kw", "module_temp_c", "ambient_temp_c")
"""Columns that share the power logger's clock."""
IRRADIANCE_COLUMNS = ("poa_w_m2", "ghi_w_m2")
LAG_MIN_CADENCE_S = 300
"""Interval labels are checked from 5-min reporting up (a 1-min label convention moves nothing that matters)."""
LAG_MIN_GAIN = 0.1
"""The best lag must scatter ≥ 10 % less than lag 0 (relative) to move the power."""
LAG_MIN_BUCKETS = 100
"""Bright readings (POA > 200 W/m², power > 0) the lag test needs."""
MIN_RELATIVE_SHIFT_MIN = 60
"""Smallest constant power-vs-irradiance offset corrected (minutes; offsets are rounded to whole hours)."""
GHI_MIN_OFFSET_MIN = 40
"""Smallest median offset (minutes) of the GHI's daily midpoint from solar noon taken as a clock error
(rounded to whole hours). The half-maximum midpoint of a well-clocked GHI stays within ± 15 min of solar
noon (afternoon clouds pull it early)."""


def _check_site(where: tuple[float, float, float]) -> SiteSpec:
    from heliosgrid.forecast.solar import site_from_capacity

    return site_from_capacity("clock", where[0], where[1], 1.0, altitude_m=where[2], timezone="UTC")


def _quarter_hours(values: pd.Series) -> pd.Series:
    return values.clip(lower=0.0).resample("15min").mean()


def _step_segments(values: pd.Series, site: SiteSpec) -> list[ClockSegment]:
    """Shifted periods of one column (steps only: an offset every day shares is an orientation or zone
    offset, left to the relative check; the periods are taken relative to the one nearest the sun when
    they cover every day, e.g. DST switches of a file stamped an hour off)."""
    from heliosgrid.forecast.clock import daily_noon_offsets, detect_clock_shifts

    q = _quarter_hours(values)
    segments = detect_clock_shifts(q, site)
    days = daily_noon_offsets(q, site).index
    if not len(days) or not segments:
        return segments
    naive = pd.DatetimeIndex(days).tz_localize(None)
    inside = np.zeros(len(naive), dtype=bool)
    for seg in segments:
        inside |= (naive >= pd.Timestamp(seg.since)) & (naive < pd.Timestamp(seg.until))
    covered = bool(inside.all())
    if not covered:
        return segments
    base = min((seg.shift_min for seg in segments), key=abs)
    return [ClockSegment(seg.since, seg.until, seg.shift_min - base) for seg in segments if seg.shift_min != base]


SAME_STEP_DAYS = 3
"""Power and irradiance steps of one size whose dates differ by at most this are one clock's step."""


def shared_steps(power: list[ClockSegment], light: list[ClockSegment]) -> list[ClockSegment]:
    """The power's steps, each dated as the irradiance's step of the same size within
    :data:`SAME_STEP_DAYS` days: one logger's DST switch, whose date the irradiance (no clipping, no
    outages) shows more sharply. On PVDAQ 50 2012 read in America/Denver the power's step came out on
    12 Mar, the irradiance's on 11 Mar (the switch)."""

    def near(a: str, b: str) -> bool:
        return abs((pd.Timestamp(a) - pd.Timestamp(b)).days) <= SAME_STEP_DAYS

    out = []
    for seg in power:
        twin = next((x for x in light if x.shift_min == seg.shift_min and near(x.since, seg.since) and near(x.until, seg.until)),
                    None)
        out.append(seg if twin is None else ClockSegment(twin.since, twin.until, seg.shift_min))
    return out


def _shift_columns(frame: pd.DataFrame, columns: list[str], segments: list[ClockSegment], longitude_deg: float) -> None:
    """Move ``columns`` back by each segment's shift in place (values falling outside the file's
    timestamps are dropped; a timestamp left without a value becomes NaN)."""
    from heliosgrid.forecast.clock import shifted_back

    index = pd.DatetimeIndex(frame.index)
    moved = shifted_back(index, segments, longitude_deg)
    for col in columns:
        s = pd.Series(frame[col].to_numpy(), index=moved)
        frame[col] = s[~s.index.duplicated(keep="first")].reindex(index).to_numpy()


def _whole_file(index: pd.DatetimeIndex, longitude_deg: float, shift_min: int) -> ClockSegment:
    """A segment over every local-mean-time day of ``index`` (the file's whole span)."""
    days = lmt_days(index, longitude_deg)
    return ClockSegment(days[0].date().isoformat(), (days[-1] + pd.Timedelta(days=1)).date().isoformat(), shift_min)


def _late_or_early(shift: float) -> str:
    """How a clock ``shift`` (positive: the data's clock is behind) reads in a warning."""
    return "late" if shift > 0 else "early"


def _describe(label: str, seg: ClockSegment) -> str:
    way = _late_or_early(seg.shift_min)
    return (f"{label} clock runs {abs(seg.shift_min)} min {way} from {seg.since} until {seg.until} "
            "(detected from solar noon); timestamps corrected")


def _relative_offset_min(frame: pd.DataFrame, irradiance: str, site: SiteSpec) -> int:
    """Whole hours by which the power's daily midpoint follows the irradiance's (median over days)."""
    from heliosgrid.forecast.clock import daily_noon_offsets

    power = daily_noon_offsets(_quarter_hours(frame["ac_power_kw"]), site)
    light = daily_noon_offsets(_quarter_hours(frame[irradiance]), site)
    both = power.index.intersection(light.index)
    if len(both) < CLOCK_MIN_DAYS:
        return 0
    median = float(np.median(power[both].to_numpy() - light[both].to_numpy()))
    return round(median / 60.0) * 60


def _align_ghi_to_sun(frame: pd.DataFrame, site: SiteSpec, longitude_deg: float) -> list[str]:
    """Move the ``ghi_w_m2`` column (in place) by the whole hours its daily midpoint follows solar noon
    over the file (module docstring, check 2); the warning, if any."""
    from heliosgrid.forecast.clock import daily_noon_offsets

    offsets = daily_noon_offsets(_quarter_hours(frame["ghi_w_m2"]), site)
    if len(offsets) < CLOCK_MIN_DAYS:
        return []
    median = float(np.median(offsets.to_numpy()))
    if abs(median) < GHI_MIN_OFFSET_MIN:
        return []
    shift = round(median / 60.0) * 60
    index = pd.DatetimeIndex(frame.index)
    _shift_columns(frame, ["ghi_w_m2"], [_whole_file(index, longitude_deg, shift)], longitude_deg)
    way = _late_or_early(shift)
    return [f"GHI clock runs {abs(shift)} min {way} against the sun over the whole file ({index[0].date()} … "
            f"{index[-1].date()}; its daily midpoint follows solar noon by {median:.0f} min); timestamps corrected"]


def align_to_sun(frame: pd.DataFrame, where: tuple[float, float, float]) -> list[str]:
    """Correct the clocks of ``frame``'s columns in place (see the module docstring); the warnings.

    ``frame``: UTC-indexed readings with ``ac_power_kw`` (kW) and at most one of ``poa_w_m2``/``ghi_w_m2``
    (W/m²; without either only check 1 runs, on the power); ``where`` = (latitude °N, longitude °E, altitude m)."""
    site = _check_site(where)
    irradiance = next((c for c in IRRADIANCE_COLUMNS if c in frame), None)
    power_cols = [c for c in POWER_COLUMNS if c in frame]
    warnings: list[str] = []
    if irradiance is None:  # power only: its steps against the sun (check 1); a constant offset is the orientation's
        power_steps = _step_segments(frame[power_cols[0]], site)
        _shift_columns(frame, power_cols, power_steps, where[1])
        return [_describe("AC power logger", seg) for seg in power_steps]
    light_steps = _step_segments(frame[irradiance], site)
    power_steps = shared_steps(_step_segments(frame[power_cols[0]], site), light_steps)
    for label, cols, segments in (("AC power logger", power_cols, power_steps), ("irradiance", [irradiance], light_steps)):
        if segments:
            _shift_columns(frame, cols, segments, where[1])
            warnings += [_describe(label, seg) for seg in segments]
    if irradiance == "ghi_w_m2":
        warnings += _align_ghi_to_sun(frame, site, where[1])
    offset = _relative_offset_min(frame, irradiance, site)
    if abs(offset) >= MIN_RELATIVE_SHIFT_MIN:
        index = pd.DatetimeIndex(frame.index)
        _shift_columns(frame, power_cols, [_whole_file(index, where[1], offset)], where[1])
        way = _late_or_early(offset)
        warnings.append(f"AC power logger clock runs {abs(offset)} min {way} against the {irradiance.split('_')[0].upper()} "
                        f"column over the whole file ({index[0].date()} … {index[-1].date()}); timestamps corrected")
    return warnings


def _lag_scatter(frame: pd.DataFrame, lag_s: int) -> tuple[float, int]:
    """Median |power/POA ratio ÷ that day's median − 1| with the power moved ``lag_s`` seconds earlier,
    over bright readings, and their number."""
    ac = frame["ac_power_kw"]
    moved = pd.Series(ac.to_numpy(), index=pd.DatetimeIndex(ac.index) - pd.Timedelta(seconds=lag_s))
    a = moved[~moved.index.duplicated()].reindex(frame.index)
    poa = frame["poa_w_m2"]
    ok = (poa > 200.0) & a.notna() & (a > 0)
    if int(ok.sum()) < LAG_MIN_BUCKETS:
        return float("nan"), int(ok.sum())
    ratio = a[ok] / poa[ok]
    rel = ratio / ratio.groupby(pd.DatetimeIndex(ratio.index).floor("D")).transform("median") - 1.0
    return float(rel.abs().median()), int(ok.sum())


def align_power_to_poa(frame: pd.DataFrame, cadence_s: int, longitude_deg: float) -> str | None:
    """Move the power columns of ``frame`` (in place) by the whole number of reporting intervals that
    best aligns them with ``poa_w_m2`` (module docstring, check 3); the warning, or None."""
    if cadence_s < LAG_MIN_CADENCE_S or "poa_w_m2" not in frame:
        return None
    scatter = {lag: _lag_scatter(frame, lag * cadence_s)[0] for lag in (-2, -1, 0, 1, 2)}
    if not all(np.isfinite(v) for v in scatter.values()):
        return None
    best = min(scatter, key=lambda lag: scatter[lag])
    if best == 0 or scatter[best] > (1.0 - LAG_MIN_GAIN) * scatter[0]:
        return None
    shift_min = round(best * cadence_s / 60.0)
    whole = _whole_file(pd.DatetimeIndex(frame.index), longitude_deg, shift_min)
    _shift_columns(frame, [c for c in POWER_COLUMNS if c in frame], [whole], longitude_deg)
    way = _late_or_early(best)
    return (f"AC power labelled {abs(shift_min)} min {way} against the plane-of-array irradiance (interval-end "
            f"labels?): power/POA scatter {scatter[0]:.1%} as labelled, {scatter[best]:.1%} moved; timestamps corrected")
