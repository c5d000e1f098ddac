"""API benchmark: cost of serving readings over HTTP in each format, and SSE delivery latency.

One run on a fresh database of the local PostgreSQL (``HELIOS_TEST_PG_URL`` or 127.0.0.1:5432),
dropped at the end; the API runs in-process (uvicorn in a thread) on a free port.

* ``sql_page_ms`` — baseline: the same keyset query fetched directly with psycopg (5000 rows).
* ``json_page_ms`` / ``csv_page_ms`` / ``parquet_page_ms`` — one 5000-row page of
  ``/v1/readings`` over HTTP (median of 5), and ``*_ratio`` = page / baseline;
  ``*_bytes`` = response size.
* ``full_scan_rows_per_s`` — paging through every reading (limit 5000, JSON) vs
  ``sql_scan_rows_per_s`` (psycopg fetching all rows at once); ``full_scan_ratio``.
* ``authed_request_ms`` (``/v1/sites``: key lookup + rate limiter + query) vs ``health_request_ms``
  (no key, ``SELECT 1``), same keep-alive client.
* ``sse_latency_ms`` — insert → ``reading`` event received (median of 5 inserts spread over the
  poll cycle) with a 1 s poll;
  ``sse_latency_ratio`` = latency / poll interval (≤ ~1 expected).
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import uvicorn

from heliosgrid.api import create_app
from heliosgrid.api.auth import create_key
from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.settings import load_settings

SERVER_URL = os.environ.get("HELIOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEVICES = 10
DAYS = 2
PAGE = 5000
POLL_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_ms(fn: Any, n: int = 5) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def _seed(url: str, start: datetime, end: datetime) -> str:
    with open_connection(url, autocommit=True) as conn:
        migrate(conn, requested_backend="postgres")
        conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg) VALUES ('bench-site', 'Bench', 45, 5)")
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (start, end + timedelta(days=1)))
        conn.execute(
            """INSERT INTO readings (device_id, ts, site_id, poa_w_m2, module_temp_c, ac_power_kw, dc_power_kw,
                                     inverter_status, seq)
               SELECT 'bench-inv-' || d, ts, 'bench-site', 500, 30, 40, 42, 'ok', extract(epoch FROM ts)::bigint
               FROM generate_series(1, %s) d,
                    generate_series(%s::timestamptz, %s::timestamptz - INTERVAL '1 minute', INTERVAL '1 minute') ts""",
            (DEVICES, start, end),
        )
        return create_key(conn, "bench", ["read"]).secret


def _http_figures(base: str, key: str, params: dict[str, Any], sql_ms: float, total: int, sql_scan_s: float,
                  sql_rows: int) -> dict[str, Any]:
    """One page per format against the same SQL page (ratios), a full keyset scan against the SQL scan, and
    the authentication overhead of a request."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as c:
        for fmt in ("json", "csv", "parquet"):
            ms, resp = _median_ms(lambda f=fmt: c.get("/v1/readings", params={**params, "format": f}))
            out[f"{fmt}_page_ms"] = round(ms, 2)
            out[f"{fmt}_page_ratio"] = round(ms / sql_ms, 2)
            out[f"{fmt}_page_bytes"] = len(resp.content)
        t0 = time.perf_counter()
        seen, cursor = 0, None
        while True:
            page = c.get("/v1/readings", params={**params, **({"cursor": cursor} if cursor else {})}).json()
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        scan_s = time.perf_counter() - t0
        assert seen == total == sql_rows
        out["full_scan_rows_per_s"] = round(total / scan_s)
        out["sql_scan_rows_per_s"] = round(total / sql_scan_s)
        out["full_scan_ratio"] = round((total / scan_s) / (total / sql_scan_s), 3)
        out["health_request_ms"] = round(_median_ms(lambda: c.get("/v1/health"), 20)[0], 2)
        out["authed_request_ms"] = round(_median_ms(lambda: c.get("/v1/sites"), 20)[0], 2)
        out["auth_overhead_ratio"] = round(out["authed_request_ms"] / out["health_request_ms"], 2)
    return out


def run() -> dict[str, Any]:
    name = f"helios_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER_URL.rsplit("/", 1)[0] + "/" + name
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    try:
        key = _seed(url, start, end)
        total = DEVICES * DAYS * 1440
        settings = load_settings(api_rate_limit_per_min=1_000_000, api_max_page_size=PAGE)
        server = uvicorn.Server(uvicorn.Config(create_app(settings, url, stream_poll_interval_s=POLL_S),
                                               host="127.0.0.1", port=_free_port(), log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{server.config.port}"
        params: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(), "limit": PAGE}
        try:
            with open_connection(url, autocommit=True) as conn:
                q = ("SELECT device_id, site_id, ts, ghi_w_m2, poa_w_m2, ambient_temp_c, module_temp_c, dc_power_kw, "
                     "ac_power_kw, inverter_status, seq, ingested_at FROM readings WHERE ts >= %s AND ts < %s "
                     "ORDER BY ts, device_id LIMIT %s")
                sql_ms, _ = _median_ms(lambda: conn.execute(q, (start, end, PAGE + 1)).fetchall())
                t0 = time.perf_counter()
                all_rows = conn.execute(q, (start, end, total + 1)).fetchall()
                sql_scan_s = time.perf_counter() - t0
            out: dict[str, Any] = {"devices": DEVICES, "days": DAYS, "rows": total, "page_rows": PAGE,
                                   "sql_page_ms": round(sql_ms, 2)}
            out.update(_http_figures(base, key, params, sql_ms, total, sql_scan_s, len(all_rows)))
            out["sse_poll_interval_s"] = POLL_S
            latencies = [_sse_latency(base, key, url, end + timedelta(minutes=i), delay_s=0.2 * i) for i in range(5)]
            out["sse_latency_ms"] = round(statistics.median(latencies), 1)
            out["sse_latency_ratio"] = round(out["sse_latency_ms"] / (POLL_S * 1000), 3)
            return out
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sse_latency(base: str, key: str, url: str, ts: datetime, delay_s: float) -> float:
    got = threading.Event()
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", base + "/v1/stream", headers={"X-API-Key": key}, timeout=30) as resp:
            for line in resp.iter_lines():
                if line == "event: ready":
                    ready.set()
                elif line == "event: reading":
                    got.set()
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    ready.wait(10)
    time.sleep(delay_s)  # spread insert times over the poll cycle
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute(
            "INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq) VALUES ('bench-inv-1', %s, 'bench-site', 1, 1)",
            (ts,),
        )
    if not got.wait(10):
        raise RuntimeError("SSE event not received within 10 s")
    latency = (time.perf_counter() - t0) * 1000
    t.join(timeout=5)
    return latency
