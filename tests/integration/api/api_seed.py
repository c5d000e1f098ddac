"""Seeded database and a live API server for the API, dashboard and contract tests.

Seed (times relative to ``now`` = the database clock truncated to the minute, UTC):
* sites ``alpha`` (2 inverters of 100 kW DC / 90 kW AC + a weather station) and ``beta``
  (1 inverter of 50 kW DC / 45 kW AC);
* readings every minute for the last 3 h (ac_power_kw = 0.6 × DC capacity, status 'ok'
  except ``alpha-inv2`` in 'fault' during the first 30 min), rollups refreshed;
* two forecast issues for ``alpha`` (now−2 h and now−1 h), 15-min targets to now+6 h;
* three alerts (two open, one resolved); four dq_results.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import uvicorn

from heliosgrid.api import create_app
from heliosgrid.api.auth import create_key
from heliosgrid.db.connection import open_connection
from heliosgrid.settings import Settings

INVERTERS = {"alpha-inv1": ("alpha", 100.0, 90.0), "alpha-inv2": ("alpha", 100.0, 90.0), "beta-inv1": ("beta", 50.0, 45.0)}
HISTORY_MIN = 180


@dataclass
class Seeded:
    url: str
    now: datetime
    reading_count: int
    forecast_issues: tuple[datetime, datetime]
    open_alert_ids: list[int]
    resolved_alert_id: int


def ac_power_kw(device_id: str) -> float:
    """The seeded AC power of every reading of ``device_id`` (kW)."""
    return 0.6 * INVERTERS[device_id][1]


def seed(url: str) -> Seeded:
    with open_connection(url, autocommit=True) as conn:
        now = conn.execute("SELECT date_trunc('minute', now())").fetchone()[0]  # type: ignore[index]
        conn.execute(
            """INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, timezone, dc_capacity_kw, ac_capacity_kw,
                                  tariff_per_kwh)
               VALUES ('alpha', 'Alpha Solar', 43.6, 1.44, 'UTC', 200, 180, 0.1),
                      ('beta', 'Beta Solar', 40.4, -3.7, 'Europe/Madrid', 50, 45, NULL)"""
        )
        for device_id, (site, dc, ac) in INVERTERS.items():
            conn.execute(
                "INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, dc_capacity_kw, ac_capacity_kw) "
                "VALUES (%s, %s, 'inverter', 30, %s, %s)",
                (device_id, site, dc, ac),
            )
        conn.execute("INSERT INTO devices (device_id, site_id, kind) VALUES ('alpha-ws', 'alpha', 'weather_station')")
        start = now - timedelta(minutes=HISTORY_MIN)
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (start - timedelta(days=1), now + timedelta(days=1)))
        rows = []
        for device_id, (site, _dc, _ac) in INVERTERS.items():
            for i in range(HISTORY_MIN):
                ts = start + timedelta(minutes=i)
                status = "fault" if device_id == "alpha-inv2" and i < 30 else "ok"
                ac_kw = ac_power_kw(device_id)
                rows.append((device_id, ts, site, 700.0, 650.0, 20.0, 35.0, ac_kw / 0.96, ac_kw, status, i))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (device_id, ts, site_id, ghi_w_m2, poa_w_m2, ambient_temp_c, module_temp_c, "
                "dc_power_kw, ac_power_kw, inverter_status, seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        conn.execute("SELECT helios_refresh_rollups()")
        issues = (now - timedelta(hours=2), now - timedelta(hours=1))
        for k, issued in enumerate(issues):
            first = issued - timedelta(minutes=issued.minute % 15, seconds=issued.second)
            targets = [first + timedelta(minutes=15 * j) for j in range(1, 33)]
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw, "
                    "point_kw) VALUES ('alpha', 'test-model-v1', %s, %s, %s, %s, %s, %s, %s)",
                    # the older issue as stored before migration 0220 (no point forecast)
                    [(issued, t, int((t - issued).total_seconds() // 60), 90.0 + k, 115.0 + k, 140.0 + k,
                      110.0 + k if k else None) for t in targets],
                )
        # Forecasts for targets already measured (a backfill): the accuracy table (migration 0100) picks them
        # up at the next rollup refresh; run that step now.
        conn.execute("SELECT helios_refresh_forecast_accuracy()")
        alert_ids = []
        for device_id, fault, state in (
            ("alpha-inv2", "inverter_trip", "open"),
            ("beta-inv1", "soiling", "open"),
            ("alpha-inv1", "string_outage", "resolved"),
        ):
            row = conn.execute(
                """INSERT INTO alerts (site_id, device_id, source, fault_type, severity, state, started_at, last_seen_at,
                                       title, energy_lost_kwh, recommended_action, resolved_at)
                   VALUES (%s, %s, 'maintenance', %s, 'warning', %s, %s, %s, %s, 12.5, 'inspect', %s)
                   RETURNING alert_id""",
                (INVERTERS[device_id][0], device_id, fault, state, now - timedelta(hours=2), now - timedelta(minutes=5),
                 f"{fault} on {device_id}", now if state == "resolved" else None),
            ).fetchone()
            alert_ids.append(row[0])  # type: ignore[index]
        for check, site, passed in (("completeness", "alpha", True), ("completeness", "beta", True),
                                    ("range_ac_power", "alpha", False), ("range_ac_power", "beta", True)):
            conn.execute(
                "INSERT INTO dq_results (check_name, site_id, window_start, window_end, passed, measured_value, threshold, "
                "checked_at) VALUES (%s, %s, %s, %s, %s, 0.97, 0.95, %s)",
                (check, site, now - timedelta(hours=1), now, passed, now),
            )
    return Seeded(url, now, len(rows), issues, alert_ids[:2], alert_ids[2])


def make_keys(url: str) -> dict[str, str]:
    with open_connection(url, autocommit=True) as conn:
        return {
            "read": create_key(conn, "test-reader", ["read"]).secret,
            "write": create_key(conn, "test-operator", ["read", "alerts:write"]).secret,
            "admin": create_key(conn, "test-admin", ["admin"]).secret,
            "alerts_only": create_key(conn, "test-alerts-only", ["alerts:write"]).secret,
        }


class ServerThread:
    """uvicorn serving ``create_app`` on 127.0.0.1:port in a daemon thread."""

    def __init__(
        self, url: str, port: int, settings: Settings, poll_interval_s: float = 0.3, pool_timeout_s: float = 10.0,
        pool_max_size: int = 6, failed_auth_per_min: int = 1000, max_streams_per_key: int = 10,
    ) -> None:
        app = create_app(settings, url, pool_max_size=pool_max_size, pool_timeout_s=pool_timeout_s,
                         stream_poll_interval_s=poll_interval_s, failed_auth_per_min=failed_auth_per_min,
                         max_streams_per_key=max_streams_per_key)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                                   timeout_graceful_shutdown=3))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"api-{port}")
        self.base_url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def db_scalar(url: str, query: str, params: tuple[object, ...] = ()) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None
