"""15-minute device frames: the one input shape of every maintenance detector.

The detectors never read raw 1-minute readings; they read per-device 15-minute buckets with the
columns of the ``readings_15m`` rollup (migration 0004). The same shape comes from

* the database (:func:`load_rollup_15m`, production: ``heliosgrid maintenance run``), or
* raw readings in memory (:func:`rollup_15m`, the simulator in ``heliosgrid maintenance evaluate``),

so the evaluation exercises exactly the detector code that runs in production. Buckets are
15 minutes aligned on UTC quarter hours (``time_bucket`` with origin 2000-01-03 00:00 UTC), each
labelled by its start. A bucket with no readings at all (communication gap) is absent from the
rollup; :func:`device_frames` re-inserts it with ``sample_count = 0`` and NaN measures.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from heliosgrid.physics import DeviceSpec, SiteSpec

BUCKET = pd.Timedelta(minutes=15)
BUCKET_H = 0.25
NOMINAL_SAMPLES_PER_BUCKET = 15
"""Contract cadence is 60 s, so a complete 15-minute bucket holds 15 samples."""


def completeness(f: pd.DataFrame) -> pd.Series:
    """Share of the bucket's nominal samples present (``sample_count`` / ``nominal_samples``).

    ``nominal_samples`` is the device's samples per 15-minute bucket at its nominal reporting
    interval (a frame column set by :func:`device_frames`); frames without it assume the
    contract's 60-s cadence (:data:`NOMINAL_SAMPLES_PER_BUCKET`).
    """
    nominal = f.get("nominal_samples", NOMINAL_SAMPLES_PER_BUCKET)
    return f["sample_count"] / nominal


ROLLUP_COLUMNS: tuple[str, ...] = (
    "sample_count",
    "ghi_w_m2_avg",
    "ghi_w_m2_min",
    "ghi_w_m2_max",
    "poa_w_m2_avg",
    "poa_w_m2_min",
    "poa_w_m2_max",
    "ambient_temp_c_avg",
    "ambient_temp_c_min",
    "ambient_temp_c_max",
    "module_temp_c_avg",
    "module_temp_c_min",
    "module_temp_c_max",
    "dc_power_kw_avg",
    "ac_power_kw_avg",
    "ac_power_kw_max",
    "energy_kwh",
    "status_ok_count",
)


def rollup_15m(readings: pd.DataFrame) -> pd.DataFrame:
    """Aggregate raw readings to the ``readings_15m`` columns the detectors use.

    ``readings`` has the contract columns (``device_id, site_id, ts, poa_w_m2, ambient_temp_c,
    module_temp_c, dc_power_kw, ac_power_kw, inverter_status``, optional ``ghi_w_m2``); ``ts``
    tz-aware. Returns one row per (device, bucket) with ``device_id, site_id, bucket`` and
    :data:`ROLLUP_COLUMNS`; definitions identical to migration 0004 (``energy_kwh`` = mean AC
    power × 0.25 h).
    """
    df = readings.copy()
    if "ghi_w_m2" not in df:
        df["ghi_w_m2"] = np.nan
    df["bucket"] = pd.to_datetime(df["ts"], utc=True).dt.floor("15min")
    df["status_ok"] = (df["inverter_status"] == "ok").astype("int64")
    g = df.groupby(["device_id", "site_id", "bucket"], sort=True)
    out = g.agg(
        sample_count=("ts", "size"),
        ghi_w_m2_avg=("ghi_w_m2", "mean"),
        ghi_w_m2_min=("ghi_w_m2", "min"),
        ghi_w_m2_max=("ghi_w_m2", "max"),
        poa_w_m2_avg=("poa_w_m2", "mean"),
        poa_w_m2_min=("poa_w_m2", "min"),
        poa_w_m2_max=("poa_w_m2", "max"),
        ambient_temp_c_avg=("ambient_temp_c", "mean"),
        ambient_temp_c_min=("ambient_temp_c", "min"),
        ambient_temp_c_max=("ambient_temp_c", "max"),
        module_temp_c_avg=("module_temp_c", "mean"),
        module_temp_c_min=("module_temp_c", "min"),
        module_temp_c_max=("module_temp_c", "max"),
        dc_power_kw_avg=("dc_power_kw", "mean"),
        ac_power_kw_avg=("ac_power_kw", "mean"),
        ac_power_kw_max=("ac_power_kw", "max"),
        status_ok_count=("status_ok", "sum"),
    ).reset_index()
    out["energy_kwh"] = out["ac_power_kw_avg"] * BUCKET_H
    return out


def load_rollup_15m(
    conn: psycopg.Connection, start: datetime, end: datetime, site_ids: Collection[str] | None = None
) -> pd.DataFrame:
    """Read ``readings_15m`` buckets in ``[start, end)`` (both tz-aware) for ``site_ids`` (None: all)."""
    cols = ", ".join(ROLLUP_COLUMNS)
    rows = conn.execute(
        f"""SELECT device_id, site_id, bucket, {cols} FROM readings_15m
            WHERE bucket >= %(start)s AND bucket < %(end)s AND (%(all)s OR site_id = ANY(%(sites)s))
            ORDER BY device_id, bucket""",
        {"start": start, "end": end, "all": site_ids is None, "sites": list(site_ids or [])},
    ).fetchall()
    frame = pd.DataFrame(rows, columns=["device_id", "site_id", "bucket", *ROLLUP_COLUMNS])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    for c in ROLLUP_COLUMNS:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return frame


def load_fleet_from_db(conn: psycopg.Connection, site_ids: Collection[str] | None = None) -> list[SiteSpec]:
    """Sites and devices registered in the database, as physics specs."""
    sites = conn.execute(
        """SELECT site_id, name, latitude_deg, longitude_deg, altitude_m, timezone FROM sites
           WHERE %(all)s OR site_id = ANY(%(sites)s) ORDER BY site_id""",
        {"all": site_ids is None, "sites": list(site_ids or [])},
    ).fetchall()
    devices = conn.execute(
        """SELECT device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw, ac_capacity_kw,
                  gamma_pdc_per_c, inverter_efficiency, tracking, tracker_max_angle_deg, tracker_gcr
           FROM devices ORDER BY device_id"""
    ).fetchall()
    by_site: dict[str, list[DeviceSpec]] = {}
    for d in devices:
        by_site.setdefault(d[1], []).append(
            DeviceSpec(
                device_id=d[0],
                site_id=d[1],
                kind=d[2],
                surface_tilt_deg=float(d[3]),
                surface_azimuth_deg=float(d[4]),
                dc_capacity_kw=float(d[5]),
                ac_capacity_kw=float(d[6]),
                gamma_pdc_per_c=float(d[7]),
                inverter_efficiency=float(d[8]),
                tracking=d[9],
                max_angle_deg=float(d[10]),
                gcr=float(d[11]),
            )
        )
    return [
        SiteSpec(
            site_id=s[0],
            name=s[1],
            latitude_deg=float(s[2]),
            longitude_deg=float(s[3]),
            altitude_m=float(s[4]),
            timezone=s[5],
            devices=tuple(by_site.get(s[0], [])),
        )
        for s in sites
    ]


def bucket_grid(start: datetime | pd.Timestamp, end: datetime | pd.Timestamp) -> pd.DatetimeIndex:
    """All 15-minute bucket starts in ``[start, end)`` (UTC), start rounded up to a bucket boundary."""
    lo = pd.Timestamp(start).tz_convert("UTC").ceil("15min")
    hi = pd.Timestamp(end).tz_convert("UTC")
    return pd.date_range(lo, hi, freq="15min", inclusive="left", name="bucket")


MAX_INTERVAL_S = 900.0
"""Coarsest reporting interval the bucket-based detectors handle (one sample per bucket)."""


def infer_interval_s(sample_count: pd.Series) -> float:
    """A device's nominal reporting interval (s), inferred from its 15-minute sample counts.

    Nominal samples per bucket = the 75th percentile of the counts of non-empty buckets (robust
    to partial buckets at gaps and to an occasional duplicate); interval = 900 s / that. With
    one sample per bucket the interval may be coarser than 15 minutes: it is then the median
    spacing of the non-empty buckets (e.g. 1800 s for half-hourly data). NaN without data.
    """
    counts = sample_count[sample_count > 0]
    if counts.empty:
        return float("nan")
    nominal = max(1.0, float(np.round(counts.quantile(0.75))))
    if nominal > 1.0 or len(counts) < 3:
        return MAX_INTERVAL_S / nominal
    spacing_s = pd.Series(counts.index).diff().dt.total_seconds().median()
    return float(max(MAX_INTERVAL_S, spacing_s))


def device_frames(
    rollup: pd.DataFrame,
    site: SiteSpec,
    grid: pd.DatetimeIndex,
    devices: Sequence[DeviceSpec] | None = None,
    monitoring_start: Mapping[str, pd.Timestamp | None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Per-device frames of ``site`` on ``grid``; buckets without readings get ``sample_count = 0``.

    Extra columns: ``interval_s`` (the device's nominal reporting interval, inferred by
    :func:`infer_interval_s`), ``nominal_samples`` (samples a complete bucket holds, ≥ 1) and
    ``monitored`` (bucket at or after the device's monitoring start: ``monitoring_start`` —
    its commissioning or first reading ever, from the database — else its first bucket with
    data in ``rollup``; a device is never "missing" before it started reporting).
    """
    out: dict[str, pd.DataFrame] = {}
    sub = rollup[rollup["site_id"] == site.site_id]
    by_dev = {k: v for k, v in sub.groupby("device_id")}
    for dev in devices if devices is not None else site.devices:
        part = by_dev.get(dev.device_id)
        if part is None:
            frame = pd.DataFrame(index=grid, columns=list(ROLLUP_COLUMNS), dtype="float64")
        else:
            frame = part.set_index("bucket")[list(ROLLUP_COLUMNS)].astype("float64").reindex(grid)
        frame["sample_count"] = frame["sample_count"].fillna(0.0)
        frame["status_ok_count"] = frame["status_ok_count"].fillna(0.0)
        interval_s = infer_interval_s(frame["sample_count"])
        frame["interval_s"] = interval_s
        frame["nominal_samples"] = (
            max(1.0, MAX_INTERVAL_S / interval_s) if np.isfinite(interval_s) else NOMINAL_SAMPLES_PER_BUCKET
        )
        start = (monitoring_start or {}).get(dev.device_id)
        if start is None:
            with_data = frame.index[frame["sample_count"] > 0]
            start = with_data[0] if len(with_data) else None
        frame["monitored"] = frame.index >= pd.Timestamp(start).floor("15min") if start is not None else False
        frame.index.name = "bucket"
        out[dev.device_id] = frame
    return out


def load_monitoring_start(conn: psycopg.Connection, site_ids: Collection[str]) -> dict[str, pd.Timestamp | None]:
    """Per device of ``site_ids``: ``commissioned_at`` when set, else its first reading ever (None: none yet)."""
    rows = conn.execute(
        """SELECT d.device_id,
                  coalesce(d.commissioned_at, (SELECT min(r.ts) FROM readings r WHERE r.device_id = d.device_id))
           FROM devices d WHERE d.site_id = ANY(%s)""",
        (list(site_ids),),
    ).fetchall()
    return {row[0]: (pd.Timestamp(row[1]).tz_convert("UTC") if row[1] is not None else None) for row in rows}
