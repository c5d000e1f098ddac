"""Run every detector over a site's 15-minute frames, in dependency order.

Per inverter the engine also learns its thresholds from its own scatter and fits its thermal
model (:mod:`.learning`), classifies snow/frost shortfalls as ``snow_loss`` (not a trip), and
says which detectors could not run and why (:mod:`.capability`): never silent.

Order matters because later detectors must not re-explain what an earlier one already found:
communication gaps and trips are found first and excluded from the calibration factor; stuck
module-temperature buckets are excluded from overheating; trips and overheating from string
outage; all loss episodes from soiling; stuck POA buckets from irradiance drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from heliosgrid.maintenance.capability import not_evaluated_reasons
from heliosgrid.maintenance.detectors import (
    Finding,
    Thresholds,
    detect_clipping,
    detect_comm_gap,
    detect_degradation,
    detect_inverter_trip,
    detect_irradiance_drift,
    detect_overheating,
    detect_snow_loss,
    detect_soiling,
    detect_string_outage,
    detect_stuck_sensor,
)
from heliosgrid.maintenance.detectors.base import clear_sky_reference
from heliosgrid.maintenance.detectors.soiling import detect_soiling_peers
from heliosgrid.maintenance.detectors.string_outage import StringTest, string_test
from heliosgrid.maintenance.expected import calibration_factor, site_features
from heliosgrid.maintenance.learning import CEILING, Learned, fit_faiman_u0, learn_thresholds, snow_mask
from heliosgrid.physics import DeviceSpec, SiteSpec


def findings_mask(index: pd.DatetimeIndex, findings: list[Finding], *types: str, sensor: str | None = None) -> pd.Series:
    """True on the buckets of ``index`` inside a finding of one of ``types`` (of ``sensor``, when given)."""
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
        # A drift seen only against the clear sky leaves the sensor in use: masking a site's only
        # irradiance would blind the loss detectors and shrink the learned scatter (ADR 0270).
        peer_drifts = [fd for fd in own if fd.evidence.get("reference") != "clear_sky"]
        bad_poa = findings_mask(frame.index, peer_drifts, "irradiance_drift") | findings_mask(
            frame.index, own, "stuck_sensor", sensor="poa_w_m2"
        )
        frame.loc[bad_poa.to_numpy(), "poa_w_m2_avg"] = float("nan")
        for sensor in ("module_temp_c", "ambient_temp_c", "ghi_w_m2"):
            bad = findings_mask(frame.index, own, "stuck_sensor", sensor=sensor)
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


@dataclass
class SiteAnalysis:
    """Findings of one site, the detectors that could not run (device → detector → reason) and
    each inverter's learned thresholds (evidence)."""

    findings: list[Finding]
    not_evaluated: dict[str, dict[str, str]] = field(default_factory=dict)
    learned: dict[str, dict[str, Any]] = field(default_factory=dict)


def _thermal_u0(site: SiteSpec, frames: dict[str, pd.DataFrame]) -> dict[str, float | None]:
    """Fitted Faiman u0 per inverter with module and ambient temperature (site median ambient)."""
    ambient = pd.concat([f["ambient_temp_c_avg"] for f in frames.values()], axis=1).median(axis=1)
    out: dict[str, float | None] = {}
    for dev in site.inverters:
        f = frames.get(dev.device_id)
        if f is not None:
            out[dev.device_id] = fit_faiman_u0(f["poa_w_m2_avg"], f["module_temp_c_avg"], ambient)
    return out


def _sensor_pass(
    site: SiteSpec, frames: dict[str, pd.DataFrame], u0: dict[str, float | None]
) -> tuple[dict[str, pd.DataFrame], list[Finding]]:
    """Pass 1: comm gaps, stuck and drifting sensors; returns the features of the masked frames."""
    devices = {d.device_id: d for d in site.devices}
    feats = site_features(site, frames, u0)
    sensor_findings: list[Finding] = []
    for device_id, f in feats.items():
        sensor_findings += detect_comm_gap(f, devices[device_id]) + detect_stuck_sensor(f, devices[device_id])
    feats = site_features(site, _mask_sensors(frames, sensor_findings), u0)
    drifts: list[Finding] = []
    for device_id, f in feats.items():
        drifts += detect_irradiance_drift(f, devices[device_id])
    sensor_findings += _blame_worst_drift(drifts)
    return site_features(site, _mask_sensors(frames, sensor_findings), u0), sensor_findings


def _loss_pass(
    site: SiteSpec,
    dev: DeviceSpec,
    f: pd.DataFrame,
    own: list[Finding],
    others_ratio: pd.Series | None,
    peer_yield: pd.DataFrame | None = None,
) -> tuple[list[Finding], Learned, StringTest]:
    """Pass 2 for one inverter: trip, snow, overheating, string outage, soiling with learned thresholds."""
    trips = detect_inverter_trip(f, dev, 1.0)
    # A clear-sky drift alert informs about the sensor only: it is still the site's irradiance (ADR 0270).
    peer_checked = [fd for fd in own if fd.evidence.get("reference") != "clear_sky"]
    unhealthy = findings_mask(f.index, peer_checked + trips, "comm_gap", "inverter_trip", "stuck_sensor", "irradiance_drift")
    k = calibration_factor(f, healthy=~unhealthy)
    snow = snow_mask(f, k)
    f["snow_suspected"] = snow
    # Learn from clean buckets only: a large outage found with the conservative ceilings is left
    # out, so a fault never raises its own threshold.
    obvious = detect_string_outage(f, dev, k, exclude=unhealthy | snow, th=CEILING)
    learned = learn_thresholds(f, k, ~unhealthy & ~snow & ~findings_mask(f.index, obvious, "string_outage"), site.timezone)
    th: Thresholds = learned.thresholds
    new = detect_inverter_trip(f, dev, k, th) + detect_snow_loss(f, dev, k, snow)
    stuck_tmod = findings_mask(f.index, own, "stuck_sensor", sensor="module_temp_c")
    new += detect_overheating(f, dev, k, exclude=stuck_tmod | snow, th=th)
    # Snow days (and the day after: melting snow leaves partial cover) are snow_loss's business.
    busy = findings_mask(f.index, own + new, "inverter_trip", "overheating", "comm_gap") | _snow_days(f, snow, site.timezone, 0)
    strings = StringTest([], None)
    if not clear_sky_reference(f):  # against the clear sky the weather moves the ratio: no step or soiling told
        strings = string_test(f, dev, k, exclude=busy, th=th)
        new += strings.findings
        busy |= findings_mask(f.index, new, "string_outage") | _snow_days(f, snow, site.timezone, 1)
        new += _soiling(site, dev, f, k, busy, others_ratio, learned, peer_yield)
    for fd in new:
        fd.evidence.setdefault("calibration_factor", round(k, 4))
    return new, learned, strings


def _soiling(
    site: SiteSpec,
    dev: DeviceSpec,
    f: pd.DataFrame,
    k: float,
    busy: pd.Series,
    others: pd.Series | None,
    learned: Learned,
    peer_yield: pd.DataFrame | None,
) -> list[Finding]:
    """Soiling against the peers' power (sensor-free) and, when the daily model ratio is quiet
    enough, against the model (neighbours soiling together); one episode where both see it."""
    peers = detect_soiling_peers(f, dev, peer_yield, exclude=busy, timezone=site.timezone, th=learned.thresholds)
    if learned.too_noisy_daily:
        return peers
    has_peers = peer_yield is not None and not peer_yield.empty
    model = detect_soiling(
        f,
        dev,
        k,
        exclude=busy,
        timezone=site.timezone,
        others_daily_ratio=others,
        th=learned.thresholds,
        site_wide_only=has_peers,
    )
    return peers + [m for m in model if not any(p.started_at < m.ended_at and m.started_at < p.ended_at for p in peers)]


def _snow_days(f: pd.DataFrame, snow: pd.Series, timezone: str, days_after: int) -> pd.Series:
    """Every bucket of a local day with snow and of the ``days_after`` days after it: melting snow
    leaves partial cover whose shortfall is neither a string outage nor soiling."""
    day = pd.Series(f.index.tz_convert(timezone).normalize(), index=f.index)
    snowy = set(day[snow.to_numpy(dtype=bool)])
    snowy |= {d + pd.Timedelta(days=n) for d in snowy for n in range(1, days_after + 1)}
    return day.isin(snowy)


def _mark_ongoing(f: pd.DataFrame, findings: list[Finding]) -> None:
    """Evidence ``ongoing``: no daylight bucket with data after the episode — it cannot have cleared yet
    (a string outage at dusk is still there at dawn: the episode survives the night)."""
    seen = f["daylight"] & (f["sample_count"] > 0)
    for fd in findings:
        if fd.fault_type != "comm_gap":
            # A step still open at the last clear bucket has not cleared either (a cloudy or low-sun
            # evening after it is no evidence that it did).
            still_open = bool(fd.evidence.pop("open", False))
            fd.evidence["ongoing"] = still_open or int((seen & (f.index >= fd.ended_at)).sum()) < 2


def analyse_site_detail(site: SiteSpec, frames: dict[str, pd.DataFrame], *, info: bool = True) -> SiteAnalysis:
    """All findings for one site. ``frames``: device_id → 15-min frame (see :mod:`.frames`).

    Pass 1 finds sensor faults (stuck, drifting) and communication gaps; the faulty sensor
    readings are then masked (NaN) so that they no longer pollute their peers' references and
    the device's own expected power falls back to the site's reference POA / modelled module
    temperature. Pass 2 runs the loss detectors on the cleaned frames with each inverter's
    learned thresholds. ``info`` adds the informational detectors (clipping, degradation).
    """
    u0 = _thermal_u0(site, frames)
    feats, sensor_findings = _sensor_pass(site, frames, u0)
    findings: list[Finding] = list(sensor_findings)
    result = SiteAnalysis(findings)
    daily_ratio = _daily_model_ratio(site, feats)
    for dev in site.inverters:
        f = feats.get(dev.device_id)
        if f is None:
            continue
        own = [fd for fd in sensor_findings if fd.device_id == dev.device_id]
        others = daily_ratio.drop(columns=[dev.device_id], errors="ignore")
        peer_yield = pd.DataFrame(
            {
                d.device_id: feats[d.device_id]["norm_yield"]
                for d in site.inverters
                if d.device_id in feats and d.device_id != dev.device_id
            }
        )
        new, learned, strings = _loss_pass(site, dev, f, own, others.median(axis=1) if others.shape[1] else None, peer_yield)
        if info:
            new += detect_clipping(f, dev, timezone=site.timezone) + detect_degradation(f, dev)
        _mark_ongoing(f, own + new)
        findings += new
        result.learned[dev.device_id] = {
            **learned.evidence(),
            "thermal_u0_w_m2_k": u0.get(dev.device_id),
            "string_residual_sigma": None if strings.sigma is None else round(strings.sigma, 4),
            "string_detectable_step": None if strings.detectable_step is None else round(strings.detectable_step, 3),
            "string_alarm_correlation": round(strings.correlation, 3),
        }
        result.not_evaluated[dev.device_id] = not_evaluated_reasons(f, learned, strings=strings)
    return result


def analyse_site(site: SiteSpec, frames: dict[str, pd.DataFrame], *, info: bool = True) -> list[Finding]:
    """The findings of :func:`analyse_site_detail`."""
    return analyse_site_detail(site, frames, info=info).findings
