"""Expected power per inverter and peer comparison (the features every detector reads).

Expected AC power (kW) per 15-minute bucket comes from the inverter's own measured plane-of-array
irradiance and module back-sheet temperature through pvlib: the back-sheet temperature is
converted to cell temperature with the SAPM relation (``sapm_cell_from_module``, ΔT = 3 °C for an
open-rack glass/polymer module), then PVWatts DC (``dc_capacity_kw``, ``gamma_pdc_per_c``) and the
PVWatts inverter (``ac_capacity_kw``, ``inverter_efficiency``) with clipping — the device metadata
of the ``devices`` table.

Assumptions: bucket means are fed to a non-linear model (PVWatts is nearly linear in irradiance
except near clipping and at very low load, so the error is small in daylight); all inverters of a
site share one orientation (true for the demo fleet), so their normalised yields and POA readings
are directly comparable; a site's weather station POA is one more irradiance peer.

Peer comparison: each inverter's normalised yield (AC kW per kWp DC) divided by the median of the
*other* inverters of its site, bucket by bucket (``peer_ratio``); POA divided by the site's
irradiance reference ``poa_ref_w_m2`` (``poa_peer_ratio``; the POA implied by the other,
peer-consistent inverters' metered power while the sensors disagree, else the other sensors'
median — see :func:`_add_poa_peer_ratio` and ADR 0033) and the module-temperature residual
against the SAPM model (``tmod_excess_c``, measured minus modelled, minus the peers' median of
that residual — which removes wind and mounting effects common to the site).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pvlib

from heliosgrid.maintenance.detectors.thresholds import DAYLIGHT_POA_W_M2, DEFAULT
from heliosgrid.maintenance.frames import completeness
from heliosgrid.physics import DeviceSpec, SiteSpec, clearsky_irradiance, poa_irradiance_w_m2, solar_position
from heliosgrid.physics.model import expected_ac_power_kw as _pvwatts_ac
from heliosgrid.physics.model import expected_dc_power_kw as _pvwatts_dc
from heliosgrid.physics.model import module_temperature_c as _sapm_module

SAPM_DELTA_T_C = 3.0
"""Cell minus back-sheet temperature at 1000 W/m² for open-rack glass/polymer (SAPM), °C."""

MIN_PEER_POWER_FRACTION = 0.05
"""Peer median normalised yield must exceed 5 % of nameplate for ``peer_ratio`` to be defined."""


def expected_ac_from_sensors(poa_w_m2: pd.Series, module_temp_c: pd.Series, device: DeviceSpec) -> pd.Series:
    """Expected AC power (kW) from measured POA (W/m²) and back-sheet temperature (°C)."""
    poa = poa_w_m2.clip(lower=0.0)
    tcell = pvlib.temperature.sapm_cell_from_module(module_temp_c, poa, SAPM_DELTA_T_C)
    dc = _pvwatts_dc(poa.to_numpy(), np.asarray(tcell, dtype="float64"), device)
    ac = _pvwatts_ac(np.asarray(dc, dtype="float64"), device)
    return pd.Series(np.asarray(ac, dtype="float64"), index=poa_w_m2.index)


def _peer_median(table: pd.DataFrame, col: str) -> pd.DataFrame:
    """For each column c of ``table``, the row-wise median of all other columns (NaN-aware)."""
    out = {}
    for c in table.columns:
        others = table.drop(columns=[c])
        out[c] = others.median(axis=1, skipna=True) if others.shape[1] else pd.Series(np.nan, index=table.index)
    return pd.DataFrame(out, index=table.index)


MIN_INVERTERS_FOR_IMPLIED_POA = 3
"""Sites with at least this many inverters use the POA implied by metered power as a reference."""

IMPLIED_POA_PEER_TOLERANCE = 0.04
"""An inverter's power-implied POA is trusted only in buckets where its normalised yield is within
4 % of its peers' median (no soiling, string outage or trip of its own at that moment)."""

MIN_TRUSTED_IMPLIED_REFS = 2
"""Power-implied POA alone is the reference when at least this many other inverters are trusted."""

SENSOR_AGREEMENT = 0.02
"""The power → irradiance calibration of an inverter uses only buckets where its own POA sensor
is within 2 % of the other sensors' median (daily-median scatter of healthy sensors < 1 %)."""


SENSOR_DISAGREEMENT_WINDOW = 48
"""Daylight buckets (≈ 1.5 days) over which a sensor's ratio to the sensor median is smoothed."""


def _sensors_disagree(poa_all: pd.DataFrame, daylight: pd.Series) -> pd.Series:
    """True where at least one POA sensor of the site persistently disagrees with the others.

    Each sensor's ratio to the median of all sensors, rolling median over
    :data:`SENSOR_DISAGREEMENT_WINDOW` daylight buckets (15-minute ratios scatter 3–6 % under
    broken clouds, the smoothed ratio < 1 %), off by more than :data:`SENSOR_AGREEMENT`. Where
    all sensors agree they are believed — several independent sensors drifting by the same
    amount at the same time is implausible, whereas soiling of the whole site lowers every
    inverter's power together and would bias a power-implied reference.
    """
    lit = daylight.reindex(poa_all.index, fill_value=False).to_numpy(dtype=bool)
    if poa_all.shape[1] < 2 or not lit.any():
        return pd.Series(False, index=poa_all.index)
    median = poa_all.median(axis=1, skipna=True)
    ratio = poa_all.div(median.where(median > DAYLIGHT_POA_W_M2), axis=0)[lit]
    smooth = ratio.rolling(SENSOR_DISAGREEMENT_WINDOW, min_periods=SENSOR_DISAGREEMENT_WINDOW // 2).median()
    off = ((smooth - 1.0).abs() > SENSOR_AGREEMENT).any(axis=1)
    return off.astype(float).reindex(poa_all.index).ffill().fillna(0.0) > 0.5


def _implied_poa(feats: dict[str, pd.DataFrame], inverters: list[DeviceSpec], poa_all: pd.DataFrame) -> dict[str, pd.Series]:
    """Per inverter, the POA (W/m²) implied by its metered power: its POA × actual/expected, normalised by
    its median ratio where its own sensor agrees with the others'; none below
    :data:`MIN_INVERTERS_FOR_IMPLIED_POA` inverters (see :func:`_add_poa_peer_ratio`)."""
    implied: dict[str, pd.Series] = {}
    # With fewer than 3 inverters one soiled or faulty inverter would be half of the implied
    # references; such sites compare sensor readings only.
    for dev in inverters if len(inverters) >= MIN_INVERTERS_FOR_IMPLIED_POA else []:
        f = feats[dev.device_id]
        r = f["ratio_expected"].where(f["daylight"] & ~f["near_clipping"] & (completeness(f) >= DEFAULT.complete_fraction))
        # Calibrate power → irradiance only where the inverter's own sensor agrees with the
        # median of the other sensors: a drifting own sensor would otherwise bias k by its drift.
        others = poa_all.drop(columns=[dev.device_id], errors="ignore").median(axis=1, skipna=True)
        agree = (f["poa_w_m2_avg"] / others - 1.0).abs() <= SENSOR_AGREEMENT
        r_cal = r.where(agree)
        if r_cal.notna().sum() < 8:
            r_cal = r
        k = float(np.clip(r_cal.median(), 0.8, 1.2)) if r_cal.notna().sum() >= 8 else 1.0
        implied[dev.device_id] = f["poa_used_w_m2"] * r / k
    return implied


def _add_poa_peer_ratio(feats: dict[str, pd.DataFrame], inverters: list[DeviceSpec], poa_all: pd.DataFrame) -> None:
    """``poa_peer_ratio`` = POA / the site's drift-free irradiance reference (``poa_ref_w_m2``).

    Metered AC power does not drift, a pyranometer or reference cell does; and a plant loss on
    one inverter shows in its power relative to its neighbours' power, which needs no irradiance
    sensor at all. Hence the reference, at sites with ≥ :data:`MIN_INVERTERS_FOR_IMPLIED_POA`
    inverters:

    1. the POA implied by each *other* inverter's metered power (its POA × actual/expected,
       normalised by the inverter's median ratio), kept only in buckets where that inverter's
       normalised yield agrees with its peers' within :data:`IMPLIED_POA_PEER_TOLERANCE`; their
       median is the reference when ≥ :data:`MIN_TRUSTED_IMPLIED_REFS` are available *and the
       site's sensors disagree* (:func:`_sensors_disagree`) — even if most POA sensors of the
       site drift at once (Tabernas, July run) it stays anchored; while all sensors agree they
       are the reference (site-wide soiling lowers all power together and would bias the
       power-implied POA, but not the sensors);
    2. otherwise (fewer trusted inverters, small sites) the median of the other sensors'
       readings and of the available implied POAs. At sites with fewer than 3 inverters the
       weather station's POA is the reference for the inverters' sensors when it is present
       (a secondary-standard pyranometer, independent of any inverter), the other sensors'
       median otherwise.
    """
    implied = _implied_poa(feats, inverters, poa_all)
    trusted = {
        k_id: v.where((feats[k_id]["peer_ratio"] - 1.0).abs() <= IMPLIED_POA_PEER_TOLERANCE) for k_id, v in implied.items()
    }
    disagree = _sensors_disagree(poa_all, next(iter(feats.values()))["daylight"]) if feats else None
    for device_id, f in feats.items():
        refs = [poa_all[c] for c in poa_all.columns if c != device_id]
        refs += [v for k_id, v in implied.items() if k_id != device_id]
        if not refs:
            f["poa_ref_w_m2"] = np.nan
            f["poa_ref_from_power"] = False
            f["poa_peer_ratio"] = np.nan
            continue
        ref = pd.concat(refs, axis=1).median(axis=1, skipna=True)
        power_refs = [v for k_id, v in trusted.items() if k_id != device_id]
        if power_refs:
            power = pd.concat(power_refs, axis=1)
            enough = (power.notna().sum(axis=1) >= MIN_TRUSTED_IMPLIED_REFS) & disagree
            ref = ref.where(~enough, power.median(axis=1, skipna=True))
            f["poa_ref_from_power"] = enough
        else:
            f["poa_ref_from_power"] = False
        f["poa_ref_w_m2"] = ref
        with np.errstate(divide="ignore", invalid="ignore"):
            f["poa_peer_ratio"] = np.where(ref > DAYLIGHT_POA_W_M2, f["poa_w_m2_avg"] / ref, np.nan)


CLIPPED_BUCKETS_SEEN = 4
"""Plateau buckets at the AC limit (≥ 95 % of nameplate) that show an inverter clips (1 h at 15 min)."""


def clipping_seen(f: pd.DataFrame, dev: DeviceSpec) -> bool:
    """Whether the device was seen at its AC limit in the frame (needs ``expected_ac_kw``, kW): a bucket
    whose output reached 99 % of ``dev.ac_capacity_kw`` while the model, capped at the nameplate, was
    saturated (the array could give more: clipping under passing clouds), or the flat tops of
    sustained clipping — pvanalytics' geometric detector flags ≥ :data:`CLIPPED_BUCKETS_SEEN` low-slope
    buckets at ≥ 95 % of the nameplate (also when the model's DC rating is too low to saturate)."""
    from pvanalytics.features import clipping

    cap = dev.ac_capacity_kw
    ac = f["ac_power_kw_avg"]
    if ((f["ac_power_kw_max"] >= 0.99 * cap) & (f["expected_ac_kw"] >= 0.999 * cap)).any():
        return True
    if ac.notna().sum() < 2 * CLIPPED_BUCKETS_SEEN or not (ac >= 0.95 * cap).any():
        return False
    try:
        flat = clipping.geometric(ac.fillna(0.0), freq="15min")
    except (ValueError, TypeError):  # too little data for the daily shape
        return True  # no evidence either way: keep the conservative rule
    return int((flat & (ac >= 0.95 * cap)).sum()) >= CLIPPED_BUCKETS_SEEN


def module_temp_model_c(poa_w_m2: pd.Series, ambient_temp_c: pd.Series, u0: float | None = None) -> pd.Series:
    """Modelled module temperature (°C): pvlib Faiman with the device's fitted ``u0`` (W/m²/K, no
    wind term) when given, else SAPM open-rack glass/polymer (the default for unfitted devices)."""
    poa = poa_w_m2.clip(lower=0)
    if u0 is not None:
        temp = pvlib.temperature.faiman(poa, ambient_temp_c, wind_speed=0.0, u0=u0, u1=0.0)
    else:
        temp = _sapm_module(poa.to_numpy(), ambient_temp_c.to_numpy())
    return pd.Series(np.asarray(temp, dtype="float64"), index=poa_w_m2.index)


def _add_expected_columns(
    f: pd.DataFrame, dev: DeviceSpec, poa_used: pd.Series, ambient_ref: pd.Series, u0: float | None = None
) -> None:
    """Set ``poa_used_w_m2``, ``tmod_model_c``, ``expected_ac_kw``, ``near_clipping``, ``ratio_expected`` of ``f``."""
    f["poa_used_w_m2"] = poa_used
    tmod_model = module_temp_model_c(poa_used, ambient_ref, u0)
    f["expected_ac_kw"] = expected_ac_from_sensors(poa_used, f["module_temp_c_avg"].fillna(tmod_model), dev)
    f["tmod_model_c"] = tmod_model
    # Bucket means are unreliable near the clipping limit: with broken clouds the 1-minute power
    # alternates between clipped and unclipped and the mean falls below the model of the mean.
    # Only on an inverter seen at its limit in the window: one that never clips (an array sized at or
    # below its inverter, or a nameplate known only as the highest output seen) keeps its clearest,
    # most informative buckets.
    near_limit = f["expected_ac_kw"] >= 0.9 * dev.ac_capacity_kw
    f["near_clipping"] = (f["ac_power_kw_max"] >= 0.98 * dev.ac_capacity_kw) | (near_limit & clipping_seen(f, dev))
    with np.errstate(divide="ignore", invalid="ignore"):
        f["ratio_expected"] = np.where(
            f["expected_ac_kw"] > MIN_PEER_POWER_FRACTION * dev.ac_capacity_kw,
            f["ac_power_kw_avg"] / f["expected_ac_kw"],
            np.nan,
        )


def site_features(
    site: SiteSpec, frames: dict[str, pd.DataFrame], thermal_u0: Mapping[str, float | None] | None = None
) -> dict[str, pd.DataFrame]:
    """Add expected-power and peer features to each inverter's 15-minute frame.

    ``frames`` maps device_id → frame from :func:`heliosgrid.maintenance.frames.device_frames`
    (weather stations included when present). Returns device_id → frame for the inverters with
    extra columns: ``clearsky_poa_w_m2``, ``ref_poa_w_m2`` (median POA of all site sensors),
    ``poa_ref_w_m2`` / ``poa_ref_from_power`` (each device's irradiance reference and whether it came
    from metered power),
    ``daylight``, ``ambient_ref_c``, ``expected_ac_kw``, ``expected_ac_model_temp_kw`` (expected
    power with the SAPM-modelled module temperature instead of the measured one),
    ``near_clipping``, ``ratio_expected``, ``norm_yield``, ``peer_ratio``, ``poa_peer_ratio``, ``tmod_model_c``,
    ``tmod_excess_c``, ``clear_sky_reference`` (True when no device of the site measured any irradiance in the
    window: the clear-sky POA is then the reference and the expected power that of a clear sky).
    ``thermal_u0`` (device_id → fitted Faiman ``u0``, optional) replaces the SAPM open-rack
    module-temperature model by the device's own fitted one.
    """
    all_devices = [d for d in site.devices if d.device_id in frames]
    inverters = [d for d in all_devices if d.kind == "inverter"]
    if not all_devices:
        return {}
    u0s = thermal_u0 or {}
    grid = next(iter(frames.values())).index
    clearsky_poa = _clearsky_poa(site, all_devices, grid)
    poa_all = pd.DataFrame({k: f["poa_w_m2_avg"] for k, f in frames.items()}, index=grid)
    ref_poa = poa_all.median(axis=1, skipna=True)
    # No irradiance anywhere at the site in the window (a power-only plant): the clear sky is the reference.
    clear_ref = not bool(ref_poa.notna().any())
    ambient_all = pd.DataFrame({k: f["ambient_temp_c_avg"] for k, f in frames.items()}, index=grid)
    ambient_ref = ambient_all.median(axis=1, skipna=True).interpolate(limit=8).ffill().bfill().fillna(20.0)
    ambient_ref.attrs["measured"] = bool(ambient_all.notna().to_numpy().any())  # else the 20 °C stand-in

    feats: dict[str, pd.DataFrame] = {}
    for dev in inverters:
        cs = clearsky_poa[dev.device_id]
        f = _reference_columns(frames[dev.device_id], cs, cs if clear_ref else ref_poa, ambient_ref)
        f["clear_sky_reference"] = clear_ref
        # A masked (faulty) POA sensor falls back to the site's reference POA.
        poa_used = f["poa_w_m2_avg"].fillna(f["ref_poa_w_m2"].where(f["sample_count"] > 0))
        _add_expected_columns(f, dev, poa_used, ambient_ref, u0s.get(dev.device_id))
        f["norm_yield"] = f["ac_power_kw_avg"] / dev.dc_capacity_kw if dev.dc_capacity_kw > 0 else np.nan
        feats[dev.device_id] = f
    others = [d for d in all_devices if d.kind != "inverter"]
    site_ac = _site_ac_fraction(feats, inverters, grid) if others else None
    for dev in others:
        f = _reference_columns(frames[dev.device_id], clearsky_poa[dev.device_id], ref_poa, ambient_ref)
        f["site_ac_fraction"] = site_ac
        feats[dev.device_id] = f
    if not inverters:
        _add_poa_peer_ratio(feats, inverters, poa_all)
        return feats
    _add_peer_columns(feats, inverters, grid)
    _add_poa_peer_ratio(feats, inverters, poa_all)
    for dev in inverters:
        _add_model_temp_columns(feats[dev.device_id], dev, ambient_ref, u0s.get(dev.device_id))
    return feats


def _site_ac_fraction(feats: dict[str, pd.DataFrame], inverters: list[DeviceSpec], grid: pd.DatetimeIndex) -> pd.Series:
    """The site's AC power as a fraction of its inverters' AC capacity per bucket (NaN where an inverter did not
    report, or without inverters): tells a weather station's sensor that the arrays are dark too."""
    cap = sum(d.ac_capacity_kw for d in inverters)
    if not inverters or cap <= 0:
        return pd.Series(np.nan, index=grid)
    ac = pd.concat([feats[d.device_id]["ac_power_kw_avg"] for d in inverters], axis=1)
    return ac.sum(axis=1, min_count=len(inverters)) / cap


def _clearsky_poa(site: SiteSpec, devices: list[DeviceSpec], grid: pd.DatetimeIndex) -> dict[str, pd.Series]:
    """Clear-sky POA irradiance (W/m²) of each device on the 15-minute ``grid`` (sun at bucket centre)."""
    times = grid + pd.Timedelta(minutes=7.5)  # sun position at bucket centre
    solpos = solar_position(site, times)
    cs = clearsky_irradiance(site, times, solpos)
    return {
        d.device_id: pd.Series(
            poa_irradiance_w_m2(site, d, times, cs["ghi"], cs["dni"], cs["dhi"], solpos).to_numpy(), index=grid
        )
        for d in devices
    }


def _reference_columns(frame: pd.DataFrame, clearsky_poa: pd.Series, ref_poa: pd.Series, ambient_ref: pd.Series) -> pd.DataFrame:
    """Copy of ``frame`` with ``clearsky_poa_w_m2``, ``ref_poa_w_m2``, ``ambient_ref_c`` (and
    ``ambient_ref_measured``: False when no device at the site reported an air temperature in the
    window and 20 °C stands in) and ``daylight``."""
    f = frame.copy()
    f["clearsky_poa_w_m2"] = clearsky_poa
    f["ref_poa_w_m2"] = ref_poa
    f["ambient_ref_c"] = ambient_ref
    f["ambient_ref_measured"] = ambient_ref.attrs.get("measured", True)
    f["daylight"] = (f["clearsky_poa_w_m2"] > DAYLIGHT_POA_W_M2) & (f["ref_poa_w_m2"] > DAYLIGHT_POA_W_M2)
    return f


def _add_peer_columns(feats: dict[str, pd.DataFrame], inverters: list[DeviceSpec], grid: pd.DatetimeIndex) -> None:
    """Add ``peer_ratio``, ``tmod_excess_c`` (°C) and ``tmod_resid_peer_c`` (°C) to each inverter's frame."""
    ny = pd.DataFrame({k: feats[d.device_id]["norm_yield"] for d in inverters for k in [d.device_id]}, index=grid)
    peer_ny = _peer_median(ny, "norm_yield")
    resid = pd.DataFrame(
        {d.device_id: feats[d.device_id]["module_temp_c_avg"] - feats[d.device_id]["tmod_model_c"] for d in inverters},
        index=grid,
    )
    resid_peer = _peer_median(resid, "resid")
    for dev in inverters:
        f = feats[dev.device_id]
        peer = peer_ny[dev.device_id]
        min_ny = MIN_PEER_POWER_FRACTION * dev.ac_capacity_kw / dev.dc_capacity_kw if dev.dc_capacity_kw > 0 else np.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            f["peer_ratio"] = np.where(peer > min_ny, f["norm_yield"] / peer, np.nan)
        # Excess over the model *and* over the peers: a peer's faulty sensor cannot make a healthy
        # device look hot, and site-wide wind effects cannot either.
        f["tmod_excess_c"] = np.minimum(resid[dev.device_id], resid[dev.device_id] - resid_peer[dev.device_id].fillna(0.0))
        # The site's common module-temperature residual, added to the model where the measured
        # module temperature is itself faulty (see _add_model_temp_columns).
        f["tmod_resid_peer_c"] = resid_peer[dev.device_id].fillna(0.0)


def _add_model_temp_columns(f: pd.DataFrame, dev: DeviceSpec, ambient_ref: pd.Series, u0: float | None) -> None:
    """Re-base masked POA on the power-implied reference; add ``expected_ac_model_temp_kw`` and ``clearsky_ac_kw``."""
    # A masked (faulty) POA sensor falls back to the drift-free reference (the POA implied by
    # the other inverters' metered power where they agree with each other) rather than to the
    # median of the remaining sensors, which other undetected drifting sensors could bias.
    masked = f["poa_w_m2_avg"].isna() & (f["sample_count"] > 0) & f["poa_ref_w_m2"].notna()
    if masked.any():
        _add_expected_columns(f, dev, f["poa_used_w_m2"].where(~masked, f["poa_ref_w_m2"]), ambient_ref, u0)
        f["tmod_excess_c"] = np.minimum(
            f["module_temp_c_avg"] - f["tmod_model_c"], f["module_temp_c_avg"] - f["tmod_model_c"] - f["tmod_resid_peer_c"]
        )
    # Expected power with the module temperature the SAPM model (plus the site's common residual)
    # predicts: used where the measured module temperature is itself faulty (overheating, stuck).
    tmod_ok = f["tmod_model_c"] + f["tmod_resid_peer_c"]
    f["expected_ac_model_temp_kw"] = expected_ac_from_sensors(f["poa_used_w_m2"], tmod_ok, dev)
    # Clear-sky expected AC: no sensor in it (clear-sky POA, SAPM module temperature from the
    # site's ambient temperature); the upper envelope of actual / clear-sky AC over a day is
    # set by the clear moments, which only soiling (or another plant loss) lowers.
    cs_tmod = pd.Series(
        np.asarray(_sapm_module(f["clearsky_poa_w_m2"].to_numpy(), ambient_ref.to_numpy()), dtype="float64"),
        index=ambient_ref.index,  # the site's 15-minute grid
    )
    f["clearsky_ac_kw"] = expected_ac_from_sensors(f["clearsky_poa_w_m2"], cs_tmod, dev)


CALIBRATION_QUANTILE = 0.75
"""Healthy actual/expected ratios scatter tightly above (q99 ≈ median + 0.7 %) and widely below
(cloud transients); the upper quartile is ≈ the healthy median and stays unbiased while up to
half of the window is affected by an undetected gradual loss such as soiling."""


def calibration_factor(f: pd.DataFrame, healthy: pd.Series | None = None) -> float:
    """Typical actual/expected AC ratio (dimensionless) over healthy daylight buckets.

    It absorbs the systematic difference between the PVWatts model and the plant (wiring losses,
    nameplate tolerance, sensor calibration). Healthy = daylight, complete, not near clipping and
    not excluded by ``healthy``; the statistic is the :data:`CALIBRATION_QUANTILE` quantile. Falls back to 1.0 with fewer than
    8 such buckets.
    """
    ok = f["daylight"] & (completeness(f) >= DEFAULT.complete_fraction) & f["ratio_expected"].notna() & ~f["near_clipping"]
    if healthy is not None:
        ok &= healthy.reindex(f.index, fill_value=False)
    values = f.loc[ok, "ratio_expected"]
    if len(values) < 8:
        return 1.0
    return float(np.clip(values.quantile(CALIBRATION_QUANTILE), 0.8, 1.2))
