"""Run the data-quality checks for a window, store them in ``dq_results`` and sync alerts.

``run_quality(conn, settings, window_start, window_end)`` is what the Airflow quality DAG and
``heliosgrid quality run`` call. It is idempotent for a given window: results are upserted on
``(check_name, site_id, device_id, window_start, window_end)`` and alerts are keyed by scope
and check (see :mod:`heliosgrid.orchestration.alerting`), so re-running a window leaves the
same rows.

Freshness is judged at ``as_of`` (default: ``window_end``): the age of each device's newest
reading at or before ``as_of``. A site-level freshness row (device '') is written too; when a
whole site is stale, only the site-level alert is raised (one alert instead of one per device).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import psycopg
from psycopg.rows import dict_row

from heliosgrid.alerts import Severity, raise_alert, resolve_absent
from heliosgrid.quality.checks import CHECK_NAMES, CheckResult, DeviceInfo, Thresholds, run_device_checks
from heliosgrid.settings import Settings

log = logging.getLogger(__name__)

MAX_WINDOW = timedelta(days=31)
MEASURES = ("ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c", "dc_power_kw", "ac_power_kw")

SEVERITY: dict[str, Severity] = {
    "freshness": "critical",
    "completeness": "warning",
    "range": "warning",
    "ghi_qcrad_limits": "warning",
    "poa_clearsky_limits": "warning",
    "stale_values": "warning",
    "interpolated_values": "info",
    "outliers": "info",
    "power_vs_poa": "warning",
}

ACTIONS: dict[str, str] = {
    "freshness": "Check the consumer and producer (heliosgrid status); if they run, check the device's "
    "datalogger link. Data arriving again resolves the alert.",
    "completeness": "Samples are missing: check the datalogger/network of the device and the quarantine "
    "table for rejected messages.",
    "range": "Values exceed the device's capacity or show power at night: check the meter scaling "
    "and the device metadata (capacities) in the devices table.",
    "ghi_qcrad_limits": "GHI is physically impossible for the sun position: check the pyranometer "
    "(wiring, calibration factor, timestamp/timezone).",
    "poa_clearsky_limits": "POA exceeds the clear-sky maximum: check the POA sensor calibration, "
    "its orientation and the device's tilt/azimuth metadata.",
    "stale_values": "A sensor repeats the same value: the sensor or its logger is frozen; restart "
    "the logger or replace the sensor.",
    "interpolated_values": "Values form straight lines: the logger or an upstream system is "
    "filling gaps by interpolation; check its gap-filling settings.",
    "outliers": "Isolated spikes: check sensor wiring and grounding; a few are normal in broken clouds.",
    "power_vs_poa": "AC power and POA irradiance disagree: check the POA sensor (soiling, alignment) "
    "and the power meter; if both are fine, the array may have a fault (see maintenance alerts).",
}


class QualityInputError(ValueError):
    """The requested window is invalid (message says why)."""


@dataclass
class QualityReport:
    """Outcome of one quality run."""

    window_start: datetime
    window_end: datetime
    as_of: datetime
    results: list[CheckResult] = field(default_factory=list)
    alerts_raised: int = 0
    alerts_resolved: int = 0

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary: counts and the failing checks with their scope."""
        return {
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "checks": len(self.results),
            "passed": len(self.results) - len(self.failed),
            "failed": len(self.failed),
            "failed_by_check": dict(Counter(r.check_name for r in self.failed)),
            "failures": [
                {"check": r.check_name, "site_id": r.site_id, "device_id": r.device_id,
                 "measured_value": r.measured_value, "threshold": r.threshold}
                for r in self.failed
            ],
            "alerts_raised": self.alerts_raised,
            "alerts_resolved": self.alerts_resolved,
        }


def _validate_window(window_start: datetime, window_end: datetime, as_of: datetime | None) -> datetime:
    for name, value in (("window_start", window_start), ("window_end", window_end)):
        if value.tzinfo is None:
            raise QualityInputError(f"{name} must be timezone-aware (e.g. 2026-01-01T12:00:00Z), got {value}")
    if window_end <= window_start:
        raise QualityInputError(f"window_end ({window_end.isoformat()}) must be after window_start ({window_start.isoformat()})")
    if window_end - window_start > MAX_WINDOW:
        raise QualityInputError(f"window longer than {MAX_WINDOW.days} days; run it in pieces")
    if as_of is not None and as_of.tzinfo is None:
        raise QualityInputError("as_of must be timezone-aware")
    return as_of or window_end


def load_devices(conn: psycopg.Connection, site_ids: list[str] | None = None) -> list[DeviceInfo]:
    """Devices with their site's location, optionally restricted to ``site_ids``."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT d.device_id, d.site_id, d.kind, d.surface_tilt_deg, d.surface_azimuth_deg, d.dc_capacity_kw,
                   d.ac_capacity_kw, d.gamma_pdc_per_c, d.inverter_efficiency, d.tracking,
                   d.tracker_max_angle_deg AS max_angle_deg, d.tracker_gcr AS gcr,
                   s.latitude_deg, s.longitude_deg, s.altitude_m
            FROM devices d JOIN sites s USING (site_id)
            WHERE %(sites)s::text[] IS NULL OR d.site_id = ANY(%(sites)s::text[])
            ORDER BY d.site_id, d.device_id
            """,
            {"sites": site_ids},
        ).fetchall()
    return [DeviceInfo(**row) for row in rows]


def load_readings(conn: psycopg.Connection, window_start: datetime, window_end: datetime, device_ids: list[str]) -> pd.DataFrame:
    """Readings of ``device_ids`` with ``ts`` in ``[window_start, window_end)`` (UTC index)."""
    cur = conn.execute(
        f"SELECT device_id, ts, {', '.join(MEASURES)} FROM readings "
        "WHERE ts >= %s AND ts < %s AND device_id = ANY(%s) ORDER BY device_id, ts",
        (window_start, window_end, device_ids),
    )
    frame = pd.DataFrame(cur.fetchall(), columns=["device_id", "ts", *MEASURES])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    for col in MEASURES:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def newest_readings(conn: psycopg.Connection, as_of: datetime, device_ids: list[str]) -> dict[str, datetime]:
    """Each device's newest reading timestamp at or before ``as_of`` (devices with none are absent)."""
    rows = conn.execute(
        """
        SELECT d.device_id, (SELECT max(r.ts) FROM readings r WHERE r.device_id = d.device_id AND r.ts <= %s)
        FROM unnest(%s::text[]) AS d(device_id)
        """,
        (as_of, device_ids),
    ).fetchall()
    return {dev: ts for dev, ts in rows if ts is not None}


STORE_SQL = """
INSERT INTO dq_results (check_name, site_id, device_id, window_start, window_end, passed,
                        measured_value, threshold, details, run_id, checked_at)
SELECT u.check_name, u.site_id, u.device_id, u.window_start, u.window_end, u.passed,
       u.measured_value, u.threshold, u.details::jsonb, %s, now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::boolean[],
            %s::float8[], %s::float8[], %s::text[])
     AS u(check_name, site_id, device_id, window_start, window_end, passed, measured_value, threshold, details)
ON CONFLICT (check_name, site_id, device_id, window_start, window_end) DO UPDATE SET
    passed = excluded.passed, measured_value = excluded.measured_value,
    threshold = excluded.threshold, details = excluded.details, run_id = excluded.run_id,
    checked_at = excluded.checked_at"""


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def store_results(conn: psycopg.Connection, results: list[CheckResult], run_id: str | None) -> None:
    """Upsert results into ``dq_results`` (one row per check, scope and window) in ONE statement,
    so the hourly pass counters (migration 0180) are updated once per run, not once per row.
    A result repeated for the same key keeps the last one."""
    if not results:
        return
    unique = list({(r.check_name, r.site_id, r.device_id, r.window_start, r.window_end): r for r in results}.values())
    conn.execute(STORE_SQL, (
        run_id,
        [r.check_name for r in unique], [r.site_id for r in unique], [r.device_id for r in unique],
        [r.window_start for r in unique], [r.window_end for r in unique], [bool(r.passed) for r in unique],
        [_float(r.measured_value) for r in unique], [_float(r.threshold) for r in unique],
        [json.dumps(r.details, default=str) for r in unique],
    ))


def _site_freshness(site_id: str, devices: list[DeviceInfo], device_results: list[CheckResult],
                    newest: dict[str, datetime], window_start: datetime, window_end: datetime,
                    as_of: datetime, sla_s: int) -> CheckResult:
    site_newest = max((newest[d.device_id] for d in devices if d.device_id in newest), default=None)
    stale_devices = [r.device_id for r in device_results if r.check_name == "freshness" and not r.passed]
    if site_newest is None:
        return CheckResult("freshness", site_id, "", window_start, window_end, False, None, float(sla_s),
                           {"reason": "no readings at all", "stale_devices": stale_devices})
    age_s = max(0.0, (as_of - site_newest).total_seconds())
    return CheckResult("freshness", site_id, "", window_start, window_end, age_s <= sla_s, age_s, float(sla_s),
                       {"newest_reading": site_newest.isoformat(), "as_of": as_of.isoformat(),
                        "stale_devices": stale_devices})


def _alert_times(result: CheckResult, as_of: datetime) -> tuple[datetime, datetime]:
    """``(started_at, last_seen_at)`` of the alert for a failing result.

    Freshness: stale since newest reading + SLA, seen at ``as_of``; other checks: the window.
    """
    if result.check_name == "freshness":
        newest = result.details.get("newest_reading")
        if newest is not None and result.threshold is not None:
            since = datetime.fromisoformat(newest) + timedelta(seconds=result.threshold)
            return min(since, as_of), as_of
        return as_of, as_of
    return result.window_start, result.window_end


def sync_alerts(conn: psycopg.Connection, report: QualityReport, site_ids: list[str]) -> None:
    """Raise an alert per failing result; auto-resolve the quality alerts of ``site_ids`` whose
    check passed (:func:`heliosgrid.alerts.resolve_absent`).

    Device-level freshness failures are not alerted when their whole site is stale (the
    site-level alert covers them); they are still stored in ``dq_results`` and an existing
    device alert stays open.
    """
    stale_sites = {r.site_id for r in report.results if r.check_name == "freshness" and not r.device_id and not r.passed}
    active: set[tuple[str, str, str]] = set()
    for result in report.failed:
        active.add((result.site_id, result.device_id, result.check_name))
        if result.check_name == "freshness" and result.device_id and result.site_id in stale_sites:
            continue
        scope = f"{result.site_id}/{result.device_id}" if result.device_id else f"site {result.site_id}"
        measured = "n/a" if result.measured_value is None else f"{result.measured_value:.4g}"
        threshold = "n/a" if result.threshold is None else f"{result.threshold:.4g}"
        started_at, last_seen_at = _alert_times(result, report.as_of)
        raise_alert(
            conn, site_id=result.site_id, device_id=result.device_id, source="quality",
            fault_type=result.check_name, severity=SEVERITY.get(result.check_name, "warning"),
            title=f"Data quality: {result.check_name} failed for {scope} (measured {measured}, limit {threshold})",
            started_at=started_at, last_seen_at=last_seen_at,
            evidence={"window_start": result.window_start.isoformat(), "window_end": result.window_end.isoformat(),
                      "measured_value": result.measured_value, "threshold": result.threshold, **result.details},
            recommended_action=ACTIONS.get(result.check_name, ""),
        )
        report.alerts_raised += 1
    report.alerts_resolved += resolve_absent(conn, "quality", CHECK_NAMES, active, report.as_of, site_ids=site_ids)


def run_quality(
    conn: psycopg.Connection,
    settings: Settings,
    window_start: datetime,
    window_end: datetime,
    *,
    as_of: datetime | None = None,
    site_ids: list[str] | None = None,
    run_id: str | None = None,
    thresholds: Thresholds | None = None,
    alerts: bool = True,
) -> QualityReport:
    """Check every device (of ``site_ids``, default all) over ``[window_start, window_end)``.

    Writes ``dq_results`` and (unless ``alerts`` is False) raises/resolves quality alerts, all in
    one transaction. Returns the report. Raises :class:`QualityInputError` for a bad window.
    """
    as_of = _validate_window(window_start, window_end, as_of)
    th = thresholds or Thresholds(min_completeness=settings.dq_min_completeness)
    report = QualityReport(window_start, window_end, as_of)
    devices = load_devices(conn, site_ids)
    if not devices:
        log.warning("quality: no devices registered%s", f" for sites {site_ids}" if site_ids else "")
        return report
    ids = [d.device_id for d in devices]
    frame = load_readings(conn, window_start, window_end, ids)
    newest = newest_readings(conn, as_of, ids)
    by_device = {dev: grp.set_index("ts").drop(columns="device_id") for dev, grp in frame.groupby("device_id")}
    empty = pd.DataFrame(columns=list(MEASURES), index=pd.DatetimeIndex([], tz="UTC"), dtype=float)
    by_site: dict[str, list[DeviceInfo]] = {}
    for dev in devices:
        by_site.setdefault(dev.site_id, []).append(dev)
    for site_id, site_devices in by_site.items():
        site_results: list[CheckResult] = []
        for dev in site_devices:
            site_results += run_device_checks(
                dev, by_device.get(dev.device_id, empty), window_start, window_end,
                newest_ts=newest.get(dev.device_id), as_of=as_of, freshness_sla_s=settings.freshness_sla_s,
                thresholds=th,
            )
        site_results.append(_site_freshness(site_id, site_devices, site_results, newest, window_start,
                                            window_end, as_of, settings.freshness_sla_s))
        report.results += site_results
    with conn.transaction():
        store_results(conn, report.results, run_id)
        if alerts:
            sync_alerts(conn, report, list(by_site))
    log.info("quality %s..%s: %d checks, %d failed, alerts raised %d, resolved %d", window_start.isoformat(),
             window_end.isoformat(), len(report.results), len(report.failed), report.alerts_raised,
             report.alerts_resolved)
    return report
