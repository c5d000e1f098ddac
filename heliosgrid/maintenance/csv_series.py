"""An operator's own plant series from a CSV, for ``heliosgrid maintenance evaluate --real --csv``.

"Will the detectors cry wolf on *my* plant, and would they find a string outage there?" The
real-data evaluation (:mod:`heliosgrid.maintenance.real_eval`) runs on the series shipped in the
pvanalytics wheel; this module turns a user's CSV into the same :class:`RealSeries` (one site, one
inverter, contract reading columns) so the same DAG replay scores it: false alerts on the clean
series, and the issue's faults injected into it.

Columns (names given on the command line): a timestamp (ISO 8601; naive times are local time in
``tz``, UTC without it), AC power (kW, or W), and the irradiance — a plane-of-array sensor (W/m²) or, without one,
GHI (W/m²: satellite, reanalysis or a horizontal pyranometer) transposed to the array plane
(Erbs + Perez, as the wheel's satellite series). Module and ambient temperature (°C) are optional.
The reporting interval (the median step, 1 s … 15 min) is inferred; at least
:data:`MIN_DAYS` days are needed (a fault is injected on the second and third day). Nameplate
DC/AC (kW) default to the values inferred from the data (:func:`realdata.infer_capacities`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.forecast.hygiene import FAR_BELOW_CAPACITY_SHARE, SENTINEL_CAPACITY_FACTOR, peak_far_below, share_far_above
from heliosgrid.maintenance.csv_cleaning import (
    check_irradiance_unit,
    clipped_temperatures,
    fill_coarse_irradiance,
    missing_values,
    quarantine,
    without_empty_rows,
)
from heliosgrid.maintenance.csv_clock import IRRADIANCE_COLUMNS, align_power_to_poa, align_to_sun
from heliosgrid.maintenance.csv_orientation import Mount, infer_csv_orientation
from heliosgrid.maintenance.csv_spec import CsvSpec, SeriesInputError, as_given, column_names
from heliosgrid.maintenance.realdata import (
    RealSeries,
    bucket_solar_position,
    clear_sky_ghi,
    contract_readings,
    infer_capacities,
    poa_from_ghi,
    single_inverter_site,
)
from heliosgrid.physics.fleet import TRACKER_AXIS_AZIMUTH_DEG, TRACKER_AXIS_TILT_DEG
from heliosgrid.physics.model import surface_angles_deg
from heliosgrid.timestamps import standard_zone
from heliosgrid.units import check_output_unit, to_kw

MIN_DAYS = 3.0
"""Shortest series the evaluation can inject its faults into (days)."""
MIN_CADENCE_S, MAX_CADENCE_S = 1, 900
"""Reporting intervals the detectors support (s)."""


def _check_spec(spec: CsvSpec) -> None:
    if spec.poa_col is not None and spec.ghi_col is not None:
        raise SeriesInputError("give the irradiance as one of --poa-col (a POA sensor) or --ghi-col (GHI, transposed), "
                               "not both")
    try:
        check_output_unit(spec.power_unit)
    except ValueError as exc:
        raise SeriesInputError(str(exc)) from None
    checks = [
        (-90.0 <= spec.latitude_deg <= 90.0, f"latitude must be within −90…90°, got {spec.latitude_deg}"),
        (-180.0 <= spec.longitude_deg <= 180.0, f"longitude must be within −180…180°, got {spec.longitude_deg}"),
        (spec.tilt_deg is None or 0.0 <= spec.tilt_deg <= 90.0, f"tilt must be within 0…90°, got {spec.tilt_deg}"),
        (spec.azimuth_deg is None or 0.0 <= spec.azimuth_deg <= 360.0,
         f"azimuth must be within 0…360° (east of north), got {spec.azimuth_deg}"),
        ((spec.tilt_deg is None) == (spec.azimuth_deg is None),
         "give both --tilt and --azimuth, or neither (then both are inferred)"),
        (spec.tracking in (None, "single_axis"), f"tracking must be 'single_axis' or not given, got {spec.tracking!r}"),
    ]
    for label, kw in (("--dc-kw", spec.dc_kw), ("--ac-kw", spec.ac_kw)):
        checks.append((kw is None or kw > 0, f"{label} must be > 0 kW, got {kw}"))
    for ok, message in checks:
        if not ok:
            raise SeriesInputError(message)


def _read(spec: CsvSpec) -> pd.DataFrame:
    """The named columns, numeric, indexed by UTC time (sorted, duplicates and unparsable times dropped)."""
    from heliosgrid.forecast.datasets import read_csv_columns
    from heliosgrid.forecast.solar import ForecastInputError

    named = {k: v for k, v in column_names(spec).items() if v is not None}
    try:
        frame = read_csv_columns(spec.path, spec.timestamp_col, list(named.values()), spec.tz or "UTC")
    except ForecastInputError as exc:
        raise SeriesInputError(str(exc)) from None
    out = pd.DataFrame({k: frame[c].to_numpy() for k, c in named.items()}, index=frame.index)
    out["ac_power_kw"] = to_kw(out["ac_power_kw"], spec.power_unit)
    return out[~out.index.duplicated(keep="first")].sort_index()


def _check_unit(ac_kw: pd.Series, spec: CsvSpec) -> None:
    """A given nameplate far below most of the data: the power column's unit is wrong (W read as kW)."""
    nameplate = max(spec.ac_kw or 0.0, spec.dc_kw or 0.0)
    positive = ac_kw[ac_kw > 0]
    if nameplate <= 0 or positive.empty:
        return
    if (share := share_far_above(positive, nameplate)) is not None:
        hint = "give --power-unit W" if spec.power_unit == "kW" else "check --ac-kw/--dc-kw"
        raise SeriesInputError(f"{share:.0%} of the positive AC values exceed {SENTINEL_CAPACITY_FACTOR:g} × the given "
                               f"nameplate {nameplate:g} kW (their median is {float(positive.median()):.4g} kW): the "
                               f"power is probably in W ({hint})")
    if (peak := peak_far_below(positive, nameplate)) is not None:
        hint = "give --power-unit MW" if spec.power_unit == "kW" else "check --ac-kw/--dc-kw"
        raise SeriesInputError(f"the positive AC values stay below {FAR_BELOW_CAPACITY_SHARE:.0%} of the given nameplate "
                               f"{nameplate:g} kW (their 99.9th percentile is {peak:.4g} kW): the power is probably in "
                               f"MW ({hint})")


def _light(frame: pd.DataFrame, spec: CsvSpec) -> pd.Series:
    """The file's irradiance (W/m²: POA, else GHI), or without one the clear-sky GHI at its timestamps."""
    col = next((c for c in IRRADIANCE_COLUMNS if c in frame), None)
    if col is not None:
        return frame[col]
    where = (spec.latitude_deg, spec.longitude_deg, spec.altitude_m)
    return clear_sky_ghi(bucket_solar_position(pd.DatetimeIndex(frame.index), where, 0), where, 0)


def _check_sign(frame: pd.DataFrame, spec: CsvSpec, light: pd.Series) -> None:
    """Mostly negative AC power in daylight (irradiance > 100 W/m²): generation booked as a negative export,
    or no production at all (standby draw only); the message says which
    (:func:`heliosgrid.forecast.hygiene.negative_daylight_diagnosis`). ``light``: :func:`_light`, W/m²."""
    from heliosgrid.forecast.hygiene import negative_daylight_diagnosis

    ac = frame["ac_power_kw"]
    day, night = ac[light > 100.0], ac[light < 5.0]
    if int((day < 0).sum()) > max(int((day > 0).sum()), 20):
        nameplate = max(spec.ac_kw or 0.0, spec.dc_kw or 0.0) or None
        raise SeriesInputError(f"column {spec.ac_col!r}: " + negative_daylight_diagnosis(
            -day[day < 0], -night[night < 0], int((day > 0).sum()), nameplate))


NIGHT_DRAW_SHARE = 0.05
"""Negative AC power while dark down to this share of the column's peak is the plant's own draw (a site meter
importing for transformers and auxiliaries: −8.9 kW at a 5.9 MW plant), not a fill value or a unit error."""
DARK_W_M2 = 20.0


def _night_draw(frame: pd.DataFrame, spec: CsvSpec, light: pd.Series) -> list[str]:
    """Negative AC power while the irradiance is dark (< :data:`DARK_W_M2`) and within
    :data:`NIGHT_DRAW_SHARE` of the peak set to 0 kW in place (as the forecast hygiene does), with the warning.
    Left as they were, a site meter's every night row was outside the reading contract's −1 kW and the file
    was refused as a unit error."""
    ac = frame["ac_power_kw"]
    peak = float(ac.quantile(0.999)) if ac.notna().any() else 0.0
    draw = (ac < 0) & (light < DARK_W_M2) & (ac >= -NIGHT_DRAW_SHARE * max(peak, 0.0))
    if not draw.any():
        return []
    scale, unit = as_given("ac_power_kw", spec)
    deepest = float(ac[draw].min()) * scale
    frame.loc[draw, "ac_power_kw"] = 0.0
    return [f"{int(draw.sum())} rows with negative {spec.ac_col!r} while dark (the plant's own draw, down to "
            f"{deepest:g} {unit}): read as 0"]


def _check_place(frame: pd.DataFrame, spec: CsvSpec) -> None:
    """The irradiance (AC power without it) must follow the sun at the given place within 4 h, else the
    longitude's sign or the timestamps' zone is wrong (:func:`heliosgrid.forecast.clock.profile_lag_min`)."""
    from heliosgrid.forecast.clock import MAX_PROFILE_LAG_MIN, off_the_sun, profile_lag_min
    from heliosgrid.forecast.solar import site_from_capacity

    col = next((c for c in ("poa_w_m2", "ghi_w_m2") if c in frame and frame[c].notna().any()), "ac_power_kw")
    values = frame[col].resample("15min").mean()
    where = site_from_capacity("check", spec.latitude_deg, spec.longitude_deg, 1.0, timezone="UTC")
    lag = profile_lag_min(values, where)
    if lag is not None and abs(lag) > MAX_PROFILE_LAG_MIN:
        what = "the AC power" if col == "ac_power_kw" else "the irradiance"
        raise SeriesInputError(off_the_sun(what, lag, spec.latitude_deg, spec.longitude_deg))


def cadence_s(index: pd.DatetimeIndex) -> int:
    """The reporting interval (s): the median step between consecutive timestamps."""
    steps = np.diff(index.asi8) / 1e9
    steps = steps[steps > 0]
    if not len(steps):
        raise SeriesInputError("the CSV needs at least two distinct timestamps")
    cadence = round(float(np.median(steps)))
    if not MIN_CADENCE_S <= cadence <= MAX_CADENCE_S:
        raise SeriesInputError(f"reporting interval {cadence} s (median step) is outside the supported "
                               f"{MIN_CADENCE_S} s … {MAX_CADENCE_S // 60} min; resample the file first")
    return cadence


def _given_mount(spec: CsvSpec) -> Mount | None:
    """The mount the operator gave: a tracker (its axis horizontal north–south unless given), or a fixed
    array with both angles; None when it is to be inferred."""
    if spec.tracking == "single_axis":
        return Mount(spec.tilt_deg if spec.tilt_deg is not None else TRACKER_AXIS_TILT_DEG,
                     spec.azimuth_deg if spec.azimuth_deg is not None else TRACKER_AXIS_AZIMUTH_DEG, "single_axis")
    if spec.tilt_deg is not None and spec.azimuth_deg is not None:
        return Mount(spec.tilt_deg, spec.azimuth_deg)
    return None


def _plane_of_array(frame: pd.DataFrame, spec: CsvSpec, cadence: int, warnings: list[str]) -> Mount:
    """The array's mount, given or inferred; ``poa_w_m2`` transposed from GHI without a sensor; the power
    moved to the POA's interval labels. Warnings appended in place."""
    where = (spec.latitude_deg, spec.longitude_deg, spec.altitude_m)
    solpos = bucket_solar_position(pd.DatetimeIndex(frame.index), where, cadence) if spec.ghi_col is not None else None
    given = _given_mount(spec)

    def orient() -> Mount:
        if given is not None:
            return given
        mount, said = infer_csv_orientation(frame, solpos, where, cadence)
        warnings.append(said)
        return mount

    def transpose(mount: Mount) -> None:
        if solpos is not None:
            frame["poa_w_m2"] = poa_from_ghi(frame["ghi_w_m2"], solpos, *surface_angles_deg(mount.device(), solpos))

    mount = orient()
    transpose(mount)
    lag_warning = align_power_to_poa(frame, cadence, spec.longitude_deg)
    if lag_warning is not None:
        if given is None:  # inferred from the power as it was labelled
            warnings.pop()
            mount = orient()
            transpose(mount)
        warnings.append(lag_warning)
    return mount


def _clear_sky_poa(frame: pd.DataFrame, where: tuple[float, float, float], cadence: int, mount: Mount) -> pd.Series:
    """Clear-sky POA (W/m²) on ``frame``'s rows at the array's plane (the nameplate's yardstick without irradiance)."""
    solpos = bucket_solar_position(pd.DatetimeIndex(frame.index), where, cadence)
    return poa_from_ghi(clear_sky_ghi(solpos, where, cadence), solpos, *surface_angles_deg(mount.device(), solpos))


def load_csv_series(spec: CsvSpec) -> RealSeries:
    """The CSV as one single-inverter site's readings (see the module docstring); raises
    :class:`SeriesInputError` with a precise message on anything unusable."""
    _check_spec(spec)
    frame = _read(spec)
    cadence = cadence_s(pd.DatetimeIndex(frame.index))
    span_days = (frame.index[-1] - frame.index[0]).total_seconds() / 86400.0
    if span_days < MIN_DAYS:
        raise SeriesInputError(f"the series spans {span_days:.1f} days; the evaluation needs ≥ {MIN_DAYS:g} "
                               "(faults are injected on its second and third day)")
    where = (spec.latitude_deg, spec.longitude_deg, spec.altitude_m)
    light = _light(frame, spec)  # once: without irradiance it is the clear sky at every row
    _check_sign(frame, spec, light)
    if not (frame["ac_power_kw"] > 0).any():
        raise SeriesInputError(f"column {spec.ac_col!r} never shows positive power: nothing to evaluate")
    _check_unit(frame["ac_power_kw"], spec)
    night = _night_draw(frame, spec, light)
    frame, warnings = quarantine(frame, spec)
    warnings = night + warnings
    check_irradiance_unit(frame, spec)
    warnings += fill_coarse_irradiance(frame, spec)
    warnings += missing_values(frame, spec) + clipped_temperatures(frame, spec) + align_to_sun(frame, where)
    _check_place(frame, spec)
    frame = without_empty_rows(frame, spec)
    mount = _plane_of_array(frame, spec, cadence, warnings)
    clear = "poa_w_m2" not in frame
    poa = _clear_sky_poa(frame, where, cadence, mount) if clear else frame["poa_w_m2"]
    dc_kw, ac_kw = infer_capacities(frame["ac_power_kw"].clip(lower=0.0), poa, clear_sky=clear)
    dc_kw, ac_kw = spec.dc_kw or dc_kw, spec.ac_kw or ac_kw
    name = spec.name or spec.path.stem
    zone = spec.tz or standard_zone(spec.longitude_deg)
    site = single_inverter_site(name, where, zone, mount.tilt_deg, mount.azimuth_deg, dc_kw, ac_kw, source=str(spec.path),
                                tracking=mount.tracking)
    readings = contract_readings(site, pd.DatetimeIndex(frame.index), dict(frame.items()))
    sensors: tuple[str, ...] = ("poa" if spec.poa_col else "transposed_ghi" if spec.ghi_col else "clear_sky_poa", "ac_power")
    sensors += tuple(s for s, col in (("module_temp", spec.module_temp_col), ("ambient_temp", spec.ambient_temp_col)) if col)
    irradiance = (f"POA sensor {spec.poa_col!r}" if spec.poa_col else f"POA transposed from GHI {spec.ghi_col!r} (no POA sensor)"
                  if spec.ghi_col else "no irradiance in the file: the detectors judge against the clear sky (Ineichen)")
    given = "given" if spec.dc_kw and spec.ac_kw else "inferred from the data where not given"
    notes = f"{spec.path.name}: {irradiance}; DC {dc_kw:g} kW / AC {ac_kw:g} kW ({given}); reporting every {cadence} s"
    return RealSeries(name, site, readings, cadence, sensors, notes, warnings=tuple(warnings))
