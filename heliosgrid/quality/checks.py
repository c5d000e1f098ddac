"""Data-quality checks: pure functions over one device's readings in one window.

Every check returns a :class:`CheckResult` — one row of ``dq_results``: check name, scope
(site, device), window ``[window_start, window_end)``, pass/fail, the measured value, the
threshold it was compared with, and details (JSON-serialisable) that tell an operator where
to look. The functions take pandas objects so they are unit-testable without a database;
:mod:`heliosgrid.quality.runner` loads the data and stores the results.

Units: irradiance W/m², power kW, temperature °C, durations seconds. Readings are expected at
the contract cadence of one sample per ``NOMINAL_SAMPLE_INTERVAL_S`` (60 s).

Layering (each defect is reported once, by its most specific check):

1. ``range`` (capacity limits, power at night) and ``ghi_qcrad_limits`` / ``poa_clearsky_limits``
   (pvanalytics irradiance limits) judge single values;
2. ``stale_values`` (pvanalytics ``stale_values_diff``) finds flat-lined sensors;
3. ``interpolated_values`` (pvanalytics ``interpolation_diff``) finds linear stretches *that are
   not flat* (a flat line is also "linear" and is already reported as stale);
4. ``outliers`` (pvanalytics ``hampel``) runs only on values that passed 1 — an impossible
   value is not reported a second time as an outlier;
5. ``power_vs_poa`` compares AC power with POA irradiance × DC capacity in daylight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pvanalytics.quality import gaps, irradiance, outliers

from heliosgrid.contract.reading import NOMINAL_SAMPLE_INTERVAL_S
from heliosgrid.dq import CheckResult
from heliosgrid.physics.fleet import DeviceSpec, SiteSpec
from heliosgrid.physics.model import clear_sky, poa_irradiance_w_m2

SAMPLES_PER_15M = 15 * 60 // NOMINAL_SAMPLE_INTERVAL_S

CHECK_NAMES = (
    "freshness",
    "completeness",
    "range",
    "ghi_qcrad_limits",
    "poa_clearsky_limits",
    "stale_values",
    "interpolated_values",
    "outliers",
    "power_vs_poa",
)
"""Every check this module runs, in the order it runs them (also the alert fault types)."""


@dataclass(frozen=True)
class Thresholds:
    """Tunable limits of the checks (defaults suit 1-minute plant data).

    ``stale_window_samples``: consecutive unchanged samples that make a value stale (pvanalytics
    default 6 = 6 min). ``interpolation_window_samples``: samples in a straight line that make a
    stretch look interpolated. ``hampel_window_samples`` / ``hampel_max_deviation``: the Hampel
    identifier's window (15 samples) and its limit in robust standard deviations. ``outlier_max_fraction``:
    the share of daylight samples allowed to be outliers (clouds make a few legitimate ones).
    ``clearsky_index_max``: measured/clear-sky POA above this is impossible (cloud enhancement
    reaches ~1.4 at 1-minute resolution). ``power_poa_ratio_min/max``: the sane band of
    AC kW / (POA kW/m² × DC kW) in daylight (PVWatts with clipping gives ~0.75-0.95).
    ``daylight_poa_min_w_m2``: POA above which a sample counts as daylight for power checks.
    ``night_zenith_deg``: solar zenith beyond which power must be ~0 (sun below the horizon).
    ``ac_capacity_margin``: AC power may exceed the nameplate by this fraction.
    ``night_power_fraction``: AC power at night above this fraction of capacity is implausible.
    """

    min_completeness: float = 0.9
    stale_window_samples: int = 6
    interpolation_window_samples: int = 6
    hampel_window_samples: int = 15
    hampel_max_deviation: float = 6.0
    outlier_max_fraction: float = 0.05
    clearsky_index_max: float = 1.5
    power_poa_ratio_min: float = 0.5
    power_poa_ratio_max: float = 1.15
    daylight_poa_min_w_m2: float = 200.0
    night_zenith_deg: float = 95.0
    ac_capacity_margin: float = 0.05
    night_power_fraction: float = 0.01


@dataclass(frozen=True, kw_only=True)
class DeviceInfo(DeviceSpec):
    """What the checks need to know about a device: its :class:`DeviceSpec` (the ``devices``
    row) and the location of its site (the ``sites`` row; degrees, metres)."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float

    @classmethod
    def at_site(cls, site: SiteSpec, device: DeviceSpec) -> DeviceInfo:
        """``device`` located at ``site``."""
        spec = {f.name: getattr(device, f.name) for f in fields(DeviceSpec)}
        return cls(**spec, latitude_deg=site.latitude_deg, longitude_deg=site.longitude_deg, altitude_m=site.altitude_m)


def _result(
    name: str, dev: DeviceInfo, start: datetime, end: datetime, passed: bool,
    measured: float | None, threshold: float | None, **details: Any,
) -> CheckResult:
    if measured is not None and not math.isfinite(measured):
        measured = None
    return CheckResult(name, dev.site_id, dev.device_id, start, end, bool(passed), measured, threshold, details)


def _first_times(mask: pd.Series, limit: int = 5) -> list[str]:
    """ISO timestamps of the first ``limit`` flagged samples (evidence for operators)."""
    return [ts.isoformat() for ts in mask[mask].index[:limit]]


# --- freshness and completeness -------------------------------------------------------------


def check_freshness(
    dev: DeviceInfo, start: datetime, end: datetime, newest_ts: datetime | None, as_of: datetime, sla_s: int
) -> CheckResult:
    """Age (s) of the device's newest reading at ``as_of`` against the freshness SLA (s).

    A device that never reported fails with no measured value.
    """
    if newest_ts is None:
        return _result("freshness", dev, start, end, False, None, float(sla_s), reason="no readings at all")
    age_s = max(0.0, (as_of - newest_ts).total_seconds())
    return _result(
        "freshness", dev, start, end, age_s <= sla_s, age_s, float(sla_s),
        newest_reading=newest_ts.isoformat(), as_of=as_of.isoformat(),
    )


def check_completeness(
    dev: DeviceInfo, start: datetime, end: datetime, bucket_counts: pd.Series, min_completeness: float
) -> CheckResult:
    """Worst 15-min bucket completeness (samples / 15 expected at 60 s cadence) in the window.

    ``bucket_counts`` maps bucket start → sample count; buckets of the window absent from it
    count as 0 (a gap covering a whole bucket). Only whole buckets inside the window are judged.
    """
    buckets = pd.date_range(pd.Timestamp(start).ceil("15min"), pd.Timestamp(end), freq="15min", inclusive="left")
    buckets = buckets[buckets + pd.Timedelta(minutes=15) <= pd.Timestamp(end)]
    if len(buckets) == 0:
        return _result("completeness", dev, start, end, True, None, min_completeness, skipped="no whole 15-min bucket")
    counts = bucket_counts.reindex(buckets, fill_value=0).astype(float)
    completeness = (counts / SAMPLES_PER_15M).clip(upper=1.0)
    worst = float(completeness.min())
    low = completeness[completeness < min_completeness]
    return _result(
        "completeness", dev, start, end, worst >= min_completeness, worst, min_completeness,
        buckets=len(buckets), incomplete_buckets={ts.isoformat(): round(float(v), 3) for ts, v in low.head(10).items()},
    )


# --- single-value limits ----------------------------------------------------------------------


def solar_geometry(dev: DeviceInfo, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Solar position, extraterrestrial DNI and clear-sky POA (Ineichen, the device's fixed or tracking
    plane: :func:`heliosgrid.physics.model.poa_irradiance_w_m2`) for ``index`` (UTC)."""
    import pvlib

    site = SiteSpec(dev.site_id, dev.site_id, dev.latitude_deg, dev.longitude_deg, dev.altitude_m, "UTC")
    solpos, cs = clear_sky(site, index)
    poa = poa_irradiance_w_m2(site, dev, index, cs["ghi"], cs["dni"], cs["dhi"], solpos)
    return pd.DataFrame(
        {
            "zenith_deg": solpos["zenith"],
            "dni_extra_w_m2": pvlib.irradiance.get_extra_radiation(index),
            "clearsky_poa_w_m2": poa,
        },
        index=index,
    )


def limit_flags(readings: pd.DataFrame, geo: pd.DataFrame, dev: DeviceInfo, th: Thresholds) -> dict[str, pd.Series]:
    """Per-sample boolean flags (True = violates) for the single-value checks."""
    idx = readings.index
    false = pd.Series(False, index=idx)
    flags: dict[str, pd.Series] = {}
    # physical plausibility: capacity, DC/AC consistency, power with the sun below the horizon
    rng = false.copy()
    if "ac_power_kw" in readings and dev.ac_capacity_kw > 0:
        ac = readings["ac_power_kw"]
        rng |= (ac > dev.ac_capacity_kw * (1 + th.ac_capacity_margin)).fillna(False)
        night = geo["zenith_deg"] > th.night_zenith_deg
        rng |= (night & (ac > dev.ac_capacity_kw * th.night_power_fraction)).fillna(False)
    if "dc_power_kw" in readings and dev.dc_capacity_kw > 0:
        rng |= (readings["dc_power_kw"] > dev.dc_capacity_kw * 1.3).fillna(False)
    if "module_temp_c" in readings and "ambient_temp_c" in readings:
        rng |= ((readings["module_temp_c"] - readings["ambient_temp_c"]) > 60).fillna(False)
    flags["range"] = rng
    # GHI: QCRad physically-possible limits (needs sun position and extraterrestrial DNI)
    ghi = readings["ghi_w_m2"] if "ghi_w_m2" in readings else pd.Series(np.nan, index=idx)
    has_ghi = ghi.notna()
    ghi_ok = irradiance.check_ghi_limits_qcrad(ghi.fillna(0.0), geo["zenith_deg"], geo["dni_extra_w_m2"])
    flags["ghi_qcrad_limits"] = has_ghi & ~ghi_ok.astype(bool)
    # POA: not above csi_max × clear-sky POA (a small absolute allowance near sunrise/sunset)
    poa = readings["poa_w_m2"] if "poa_w_m2" in readings else pd.Series(np.nan, index=idx)
    has_poa = poa.notna()
    within = irradiance.clearsky_limits(poa.fillna(0.0), geo["clearsky_poa_w_m2"] + 50.0, csi_max=th.clearsky_index_max)
    flags["poa_clearsky_limits"] = has_poa & ~within.astype(bool)
    return flags


def _limit_result(name: str, dev: DeviceInfo, start: datetime, end: datetime, mask: pd.Series, **details: Any) -> CheckResult:
    n_bad = int(mask.sum())
    return _result(name, dev, start, end, n_bad == 0, float(n_bad), 0.0, flagged_samples=n_bad,
                   first_flagged=_first_times(mask), **details)


# --- patterns over time ----------------------------------------------------------------------

_PATTERN_COLUMNS = ("ghi_w_m2", "poa_w_m2", "ac_power_kw", "module_temp_c", "ambient_temp_c")
CLIPPING_BAND = 0.02
"""AC power within 2 % of the inverter nameplate counts as clipping (legitimately flat)."""


def _daylight_series(readings: pd.DataFrame, column: str, geo: pd.DataFrame, dev: DeviceInfo) -> pd.Series:
    """Non-null values of ``column``; irradiance and power only while the sun is up (night zeros
    are legitimately constant), and AC power not while the inverter clips (it then sits flat at
    its nameplate, within ``CLIPPING_BAND`` of ``ac_capacity_kw``)."""
    series = readings[column].dropna()
    if column in ("ghi_w_m2", "poa_w_m2", "ac_power_kw"):
        day = geo["zenith_deg"].reindex(series.index) < 85.0
        series = series[day & (series > 0)]
    if column == "ac_power_kw" and dev.ac_capacity_kw > 0:
        series = series[series < dev.ac_capacity_kw * (1.0 - CLIPPING_BAND)]
    return series


def pattern_flags(
    readings: pd.DataFrame, geo: pd.DataFrame, dev: DeviceInfo, th: Thresholds
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """Stale and interpolated (non-flat linear) flags per column, on the readings' index."""
    stale: dict[str, pd.Series] = {}
    interp: dict[str, pd.Series] = {}
    for col in _PATTERN_COLUMNS:
        if col not in readings:
            continue
        series = _daylight_series(readings, col, geo, dev)
        if len(series) < max(th.stale_window_samples, th.interpolation_window_samples):
            continue
        s_flag = gaps.stale_values_diff(series, window=th.stale_window_samples).astype(bool)
        i_flag = gaps.interpolation_diff(series, window=th.interpolation_window_samples).astype(bool) & ~s_flag
        stale[col] = s_flag.reindex(readings.index, fill_value=False)
        interp[col] = i_flag.reindex(readings.index, fill_value=False)
    return stale, interp


def _pattern_result(name: str, dev: DeviceInfo, start: datetime, end: datetime, flags: dict[str, pd.Series]) -> CheckResult:
    per_col = {col: int(mask.sum()) for col, mask in flags.items() if mask.any()}
    total = sum(per_col.values())
    first = {col: _first_times(flags[col], 3) for col in per_col}
    return _result(name, dev, start, end, total == 0, float(total), 0.0,
                   flagged_samples_by_column=per_col, first_flagged=first, columns_checked=sorted(flags))


def outlier_flags(
    readings: pd.DataFrame, geo: pd.DataFrame, dev: DeviceInfo, exclude: pd.Series, th: Thresholds
) -> tuple[dict[str, pd.Series], int]:
    """Hampel outliers of POA, GHI and AC power in daylight, skipping samples in ``exclude``."""
    out: dict[str, pd.Series] = {}
    n_checked = 0
    for col in ("poa_w_m2", "ghi_w_m2", "ac_power_kw"):
        if col not in readings:
            continue
        series = _daylight_series(readings, col, geo, dev)
        series = series[~exclude.reindex(series.index, fill_value=False)]
        if len(series) < th.hampel_window_samples:
            continue
        n_checked += len(series)
        flag = outliers.hampel(series, window=th.hampel_window_samples, max_deviation=th.hampel_max_deviation)
        out[col] = flag.astype(bool).reindex(readings.index, fill_value=False)
    return out, n_checked


def check_power_vs_poa(
    dev: DeviceInfo, start: datetime, end: datetime, readings: pd.DataFrame, exclude: pd.Series, th: Thresholds
) -> CheckResult:
    """Cross-sensor consistency: Σ AC kW / Σ (POA/1000 × DC kW) over daylight samples.

    Only for inverters with both sensors; passes (skipped) when there is no daylight sample
    with POA ≥ ``daylight_poa_min_w_m2``. A ratio outside the band means the POA sensor or the
    power meter is wrong (soiled/misaligned pyranometer, scaling error) — or the array has a
    fault, which the maintenance detectors judge separately.
    """
    band = f"[{th.power_poa_ratio_min}, {th.power_poa_ratio_max}]"
    if dev.kind != "inverter" or dev.dc_capacity_kw <= 0 or not {"ac_power_kw", "poa_w_m2"} <= set(readings):
        return _result("power_vs_poa", dev, start, end, True, None, th.power_poa_ratio_min, skipped="not an inverter with POA")
    frame = readings[["ac_power_kw", "poa_w_m2"]].dropna()
    frame = frame[(frame["poa_w_m2"] >= th.daylight_poa_min_w_m2) & ~exclude.reindex(frame.index, fill_value=False)]
    if frame.empty:
        return _result("power_vs_poa", dev, start, end, True, None, th.power_poa_ratio_min,
                       skipped="no daylight samples", band=band)
    expected_kw = frame["poa_w_m2"] / 1000.0 * dev.dc_capacity_kw
    ratio = float(frame["ac_power_kw"].sum() / expected_kw.sum())
    ok = th.power_poa_ratio_min <= ratio <= th.power_poa_ratio_max
    threshold = th.power_poa_ratio_min if ratio < th.power_poa_ratio_min else th.power_poa_ratio_max
    return _result("power_vs_poa", dev, start, end, ok, ratio, threshold, band=band, daylight_samples=len(frame))


# --- all checks for one device --------------------------------------------------------------


def run_device_checks(
    dev: DeviceInfo,
    readings: pd.DataFrame,
    window_start: datetime,
    window_end: datetime,
    *,
    newest_ts: datetime | None,
    as_of: datetime,
    freshness_sla_s: int,
    thresholds: Thresholds | None = None,
) -> list[CheckResult]:
    """Run every check of :data:`CHECK_NAMES` for one device and window.

    ``readings``: the device's readings with ``ts`` (tz-aware UTC) in ``[window_start,
    window_end)``, as a DataFrame indexed by ``ts`` with the contract's measure columns.
    ``newest_ts``: the device's newest reading at or before ``as_of`` (any age).
    """
    th = thresholds or Thresholds()
    readings = readings.sort_index()
    readings = readings[~readings.index.duplicated(keep="last")]
    results = [check_freshness(dev, window_start, window_end, newest_ts, as_of, freshness_sla_s)]
    counts = readings.index.floor("15min").value_counts() if len(readings) else pd.Series(dtype=float)
    results.append(check_completeness(dev, window_start, window_end, counts, th.min_completeness))
    if readings.empty:
        for name in CHECK_NAMES[2:]:
            results.append(_result(name, dev, window_start, window_end, True, None, None, skipped="no readings in window"))
        return results
    geo = solar_geometry(dev, pd.DatetimeIndex(readings.index))
    limits = limit_flags(readings, geo, dev, th)
    for name in ("range", "ghi_qcrad_limits", "poa_clearsky_limits"):
        results.append(_limit_result(name, dev, window_start, window_end, limits[name]))
    stale, interp = pattern_flags(readings, geo, dev, th)
    results.append(_pattern_result("stale_values", dev, window_start, window_end, stale))
    results.append(_pattern_result("interpolated_values", dev, window_start, window_end, interp))
    bad_value = limits["range"] | limits["ghi_qcrad_limits"] | limits["poa_clearsky_limits"]
    for mask in stale.values():
        bad_value = bad_value | mask
    out, n_checked = outlier_flags(readings, geo, dev, bad_value, th)
    n_out = sum(int(m.sum()) for m in out.values())
    fraction = n_out / n_checked if n_checked else 0.0
    results.append(_result(
        "outliers", dev, window_start, window_end, fraction <= th.outlier_max_fraction, fraction, th.outlier_max_fraction,
        outliers_by_column={c: int(m.sum()) for c, m in out.items() if m.any()}, samples_checked=n_checked,
        first_flagged={c: _first_times(m, 3) for c, m in out.items() if m.any()},
    ))
    results.append(check_power_vs_poa(dev, window_start, window_end, readings, bad_value, th))
    return results
