"""Run every detector over a site's 15-minute frames, in dependency order.

Order matters because later detectors must not re-explain what an earlier one already found:
communication gaps and trips are found first and excluded from the calibration factor; stuck
module-temperature buckets are excluded from overheating; trips and overheating from string
outage; all loss episodes from soiling; stuck POA buckets from irradiance drift.
"""

from __future__ import annotations

import pandas as pd

from heliosgrid.maintenance.detectors import (
    Finding,
    detect_clipping,
    detect_comm_gap,
    detect_degradation,
    detect_inverter_trip,
    detect_irradiance_drift,
    detect_overheating,
    detect_soiling,
    detect_string_outage,
    detect_stuck_sensor,
)
from heliosgrid.maintenance.expected import calibration_factor, site_features
from heliosgrid.physics import SiteSpec


def _mask(index: pd.DatetimeIndex, findings: list[Finding], *types: str, sensor: str | None = None) -> pd.Series:
    mask = pd.Series(False, index=index)
    for fd in findings:
        if fd.fault_type in types and (sensor is None or fd.evidence.get("sensor") == sensor):
            mask |= (index >= fd.started_at) & (index < fd.ended_at)
    return mask


def _blame_worst_drift(findings: list[Finding]) -> list[Finding]:
    """Among overlapping drift findings of one site keep the worst sensor (a drifting sensor also
    shifts its peers' reference by a fraction of its drift when a site has only 2-3 sensors).

    Findings measured against the POA implied by metered power (evidence ``reference`` =
    ``metered_power``) are kept as they are: no sensor is part of that reference, so another
    drifting sensor cannot have caused them — several sensors can drift at the same time.
    """
    drifts = sorted(
        (f for f in findings if f.fault_type == "irradiance_drift" and f.evidence.get("reference") != "metered_power"),
        key=lambda f: -abs(f.evidence.get("max_deviation") or 0),
    )
    kept: list[Finding] = [
        f for f in findings if f.fault_type == "irradiance_drift" and f.evidence.get("reference") == "metered_power"
    ]
    for fd in drifts:
        dev = abs(fd.evidence.get("max_deviation") or 0.0)
        if any(
            k.device_id != fd.device_id
            and k.started_at < fd.ended_at
            and fd.started_at < k.ended_at
            and dev < 0.75 * abs(k.evidence.get("max_deviation") or 0.0)
            for k in kept
        ):
            continue
        kept.append(fd)
    return [f for f in findings if f.fault_type != "irradiance_drift"] + kept


def _mask_sensors(frames: dict[str, pd.DataFrame], sensor_findings: list[Finding]) -> dict[str, pd.DataFrame]:
    """Copies of ``frames`` with the readings of stuck or drifting sensors set to NaN."""
    cleaned: dict[str, pd.DataFrame] = {}
    for device_id, frame in frames.items():
        own = [fd for fd in sensor_findings if fd.device_id == device_id]
        frame = frame.copy()
        bad_poa = _mask(frame.index, own, "irradiance_drift") | _mask(frame.index, own, "stuck_sensor", sensor="poa_w_m2")
        frame.loc[bad_poa.to_numpy(), "poa_w_m2_avg"] = float("nan")
        for sensor in ("module_temp_c", "ambient_temp_c", "ghi_w_m2"):
            bad = _mask(frame.index, own, "stuck_sensor", sensor=sensor)
            if f"{sensor}_avg" in frame:
                frame.loc[bad.to_numpy(), f"{sensor}_avg"] = float("nan")
        cleaned[device_id] = frame
    return cleaned


def _daily_model_ratio(site: SiteSpec, feats: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Daily (site-local) median actual/expected ratio per inverter over unclipped daylight buckets."""
    cols: dict[str, pd.Series] = {}
    for dev in site.inverters:
        f = feats.get(dev.device_id)
        if f is None:
            continue
        ok = f["daylight"] & ~f["near_clipping"] & f["ratio_expected"].notna()
        day = f.index.tz_convert(site.timezone).normalize()
        cols[dev.device_id] = f["ratio_expected"][ok].groupby(day[ok.to_numpy()]).median()
    return pd.DataFrame(cols)


def analyse_site(site: SiteSpec, frames: dict[str, pd.DataFrame], *, info: bool = True) -> list[Finding]:
    """All findings for one site. ``frames``: device_id → 15-min frame (see :mod:`.frames`).

    Pass 1 finds sensor faults (stuck, drifting) and communication gaps; the faulty sensor
    readings are then masked (NaN) so that they no longer pollute their peers' references and
    the device's own expected power falls back to the site's reference POA / modelled module
    temperature. Pass 2 runs the loss detectors on the cleaned frames. ``info`` adds the
    informational detectors (clipping, degradation).
    """
    devices = {d.device_id: d for d in site.devices}
    feats = site_features(site, frames)
    sensor_findings: list[Finding] = []
    for device_id, f in feats.items():
        sensor_findings += detect_comm_gap(f, devices[device_id]) + detect_stuck_sensor(f, devices[device_id])
    cleaned = _mask_sensors(frames, sensor_findings)
    feats = site_features(site, cleaned)
    drifts: list[Finding] = []
    for device_id, f in feats.items():
        drifts += detect_irradiance_drift(f, devices[device_id])
    sensor_findings += _blame_worst_drift(drifts)
    feats = site_features(site, _mask_sensors(frames, sensor_findings))

    findings: list[Finding] = list(sensor_findings)
    daily_ratio = _daily_model_ratio(site, feats)
    for device_id, f in feats.items():
        dev = devices[device_id]
        if dev.kind != "inverter":
            continue
        own = [fd for fd in sensor_findings if fd.device_id == device_id]
        trips = detect_inverter_trip(f, dev, 1.0)
        unhealthy = _mask(f.index, own + trips, "comm_gap", "inverter_trip", "stuck_sensor", "irradiance_drift")
        k = calibration_factor(f, healthy=~unhealthy)
        new = detect_inverter_trip(f, dev, k)
        stuck_tmod = _mask(f.index, own, "stuck_sensor", sensor="module_temp_c")
        new += detect_overheating(f, dev, k, exclude=stuck_tmod)
        busy = _mask(f.index, own + new, "inverter_trip", "overheating", "comm_gap")
        new += detect_string_outage(f, dev, k, exclude=busy)
        busy |= _mask(f.index, new, "string_outage")
        others = daily_ratio.drop(columns=[device_id], errors="ignore")
        others_ratio = others.median(axis=1) if others.shape[1] else None
        new += detect_soiling(f, dev, k, exclude=busy, timezone=site.timezone, others_daily_ratio=others_ratio)
        if info:
            new += detect_clipping(f, dev, timezone=site.timezone)
            new += detect_degradation(f, dev)
        for fd in new:
            fd.evidence.setdefault("calibration_factor", round(k, 4))
        findings += new
    return findings
