"""Clean synthetic plant readings (pvlib clear sky + small noise) for tests, demos and benchmarks.

The values follow the physics model of :mod:`heliosgrid.physics` at the contract cadence of
60 s, so every quality check passes on them; tests then plant defects on purpose.
Units: irradiance W/m², temperature °C, power kW.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from heliosgrid.contract.reading import NOMINAL_SAMPLE_INTERVAL_S
from heliosgrid.physics import model
from heliosgrid.physics.fleet import SiteSpec

COLUMNS = ("device_id", "site_id", "ts", "seq", "ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c",
           "dc_power_kw", "ac_power_kw", "inverter_status")


def clean_readings(site: SiteSpec, start: datetime, end: datetime, *, seed: int = 0, noise: float = 0.004) -> pd.DataFrame:
    """Readings of every device of ``site`` with ``ts`` in ``[start, end)`` at 60-s cadence.

    ``noise`` is the relative standard deviation of multiplicative Gaussian noise (0.4 %).
    """
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, end, freq=f"{NOMINAL_SAMPLE_INTERVAL_S}s", inclusive="left", tz="UTC")
    solpos = model.solar_position(site, times)
    cs = model.clearsky_irradiance(site, times, solpos)
    hours = (times.hour + times.minute / 60.0).to_numpy()
    ambient = 18.0 + 8.0 * np.sin((hours - 9.0) / 24.0 * 2 * np.pi)
    frames = []
    for dev in site.devices:
        n = len(times)

        def jitter(values: np.ndarray, n: int = n) -> np.ndarray:
            return np.asarray(values, dtype=float) * (1.0 + rng.normal(0.0, noise, n))

        poa = np.asarray(model.poa_irradiance_w_m2(site, dev, times, cs["ghi"], cs["dni"], cs["dhi"], solpos))
        module = np.asarray(model.module_temperature_c(poa, ambient)) + rng.normal(0.0, 0.05, n)
        frame = pd.DataFrame({"ts": times, "device_id": dev.device_id, "site_id": site.site_id})
        frame["poa_w_m2"] = jitter(poa)
        frame["module_temp_c"] = module
        frame["ambient_temp_c"] = ambient + rng.normal(0.0, 0.05, n)
        if dev.kind == "inverter":
            tcell = model.cell_temperature_c(poa, ambient)
            dc = np.asarray(model.expected_dc_power_kw(poa, tcell, dev), dtype=float)
            ac = np.asarray(model.expected_ac_power_kw(dc, dev), dtype=float)
            frame["dc_power_kw"] = np.clip(jitter(dc), 0.0, None)
            frame["ac_power_kw"] = np.minimum(np.clip(jitter(ac), 0.0, None), frame["dc_power_kw"])
            frame["inverter_status"] = np.where(ac > 0, "ok", "standby")
            frame["ghi_w_m2"] = np.nan
        else:
            frame["ghi_w_m2"] = jitter(np.asarray(cs["ghi"]))
            frame["dc_power_kw"] = np.nan
            frame["ac_power_kw"] = np.nan
            frame["inverter_status"] = None
        frame["seq"] = np.arange(n, dtype=np.int64) + int(times[0].timestamp()) // NOMINAL_SAMPLE_INTERVAL_S
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def insert_fleet(conn: psycopg.Connection, sites: list[SiteSpec]) -> None:
    """Register sites and devices (existing rows are kept)."""
    for site in sites:
        conn.execute(
            "INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, altitude_m, timezone, dc_capacity_kw, "
            "ac_capacity_kw) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (site_id) DO NOTHING",
            (site.site_id, site.name, site.latitude_deg, site.longitude_deg, site.altitude_m, site.timezone,
             site.dc_capacity_kw, site.ac_capacity_kw),
        )
        for d in site.devices:
            conn.execute(
                "INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw, "
                "ac_capacity_kw, gamma_pdc_per_c, inverter_efficiency, tracking, tracker_max_angle_deg, tracker_gcr) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id) DO NOTHING",
                (d.device_id, d.site_id, d.kind, d.surface_tilt_deg, d.surface_azimuth_deg, d.dc_capacity_kw,
                 d.ac_capacity_kw, d.gamma_pdc_per_c, d.inverter_efficiency, d.tracking, d.max_angle_deg, d.gcr),
            )


def insert_readings(conn: psycopg.Connection, frame: pd.DataFrame) -> int:
    """Upsert ``frame`` (columns :data:`COLUMNS`) into ``readings``; returns the row count.

    On plain PostgreSQL the daily partitions are created first (``helios_ensure_partitions``).
    """
    if frame.empty:
        return 0
    if conn.execute("SELECT to_regproc('helios_ensure_partitions')").fetchone() not in (None, (None,)):
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (frame["ts"].min(), frame["ts"].max()))
    clean = frame[list(COLUMNS)].astype(object).where(frame[list(COLUMNS)].notna(), None)
    rows = [tuple(r) for r in clean.itertuples(index=False, name=None)]
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO readings ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
            "ON CONFLICT (device_id, ts) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[3:]),
            rows,
        )
    return len(rows)
