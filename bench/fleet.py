"""Fleet-scale orchestration benchmark: per-site cost of the forecast, maintenance and retrain
tasks, the wall time of one mapped DAG run with 1 and 2 worker processes, and the workers a
10,000-site portfolio needs within each DAG's SLA (``heliosgrid bench fleet --json``).

Data: a fleet of ``SITES`` sites × 10 inverters + 1 weather station, one week of 15-minute rollups
(``readings_15m``, what all three tasks read), in a fresh database on the PostgreSQL server of
``HELIOS_BENCH_PG_URL`` (default 127.0.0.1:5432). Generated efficiently: ``TEMPLATES`` sites are
simulated at 1-minute resolution (``heliosgrid.simulation``, random faults) and rolled up exactly
as migration 0004 does; every other site reuses a template's rollups under its own ids (sites
differ in ids and position, not in physics). The retrain/forecast sample sites get
``HISTORY_DAYS`` of history instead, so that a retrain runs with the default settings
(``HELIOS_FORECAST_MODELS``, backtest days).

Per-site cost is measured on a sample (``SAMPLE_TRAIN`` sites for retrain and forecast,
``SAMPLE_MAINT`` for maintenance) through the real task functions
(:mod:`heliosgrid.orchestration.tasks`), divided by the sites. The DAG wall time runs the
maintenance DAG's mapped batches over ``WALL_SITES`` sites (batches of ``WALL_BATCH``) in a pool
of 1 and then 2 worker processes — what the LocalExecutor does with parallelism 1 and 2. Growth:
the per-site maintenance and forecast costs again with ``GROWTH_SITES`` sites in the database.

Projection: ``workers = ceil(10,000 × per_site_s / (SLA window_s × parallel efficiency))`` with the
efficiency measured here (wall_1 / (2 × wall_2)). SLA windows from the DAG docs: forecast runs at
H:10, due H:40 (1,800 s); maintenance runs at :05, due :20 (900 s); retrain runs 02:40, due 06:00
(12,000 s).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
import yaml

SITES = int(os.environ.get("HELIOS_BENCH_FLEET_SITES", "200"))
GROWTH_SITES = int(os.environ.get("HELIOS_BENCH_FLEET_GROWTH_SITES", "1000"))
INVERTERS = 10
DAYS = 7
HISTORY_DAYS = 22  # default retrain: backtest 14 days + 7 days of training, and a margin
TEMPLATES = 4
SAMPLE_TRAIN = int(os.environ.get("HELIOS_BENCH_FLEET_SAMPLE_TRAIN", "2"))
SAMPLE_MAINT = int(os.environ.get("HELIOS_BENCH_FLEET_SAMPLE_MAINT", "4"))
WALL_SITES, WALL_BATCH = int(os.environ.get("HELIOS_BENCH_FLEET_WALL_SITES", "8")), 2
TARGET_SITES = 10_000
SLA_WINDOW_S = {"forecast": 30 * 60, "maintenance": 15 * 60, "retrain": (3 * 60 + 20) * 60}
END = datetime(2026, 6, 22, tzinfo=UTC)  # interval end of every measured run


def _site_yaml(i: int) -> dict[str, Any]:
    return {"site_id": f"bf-{i:05d}", "name": f"Bench site {i}", "latitude_deg": 36.0 + (i % 50) * 0.1,
            "longitude_deg": -5.0 + (i // 50 % 40) * 0.1, "altitude_m": 300, "timezone": "Europe/Madrid",
            "inverters": {"count": INVERTERS, "dc_capacity_kw": 120, "ac_capacity_kw": 100,
                          "surface_tilt_deg": 30, "surface_azimuth_deg": 180}, "weather_stations": 1}


def _fleet(first: int, count: int) -> list[Any]:
    from heliosgrid.physics import load_fleet

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.safe_dump({"sites": [_site_yaml(i) for i in range(first, first + count)]}))
        return load_fleet(path)


def _template_rollups(days: int) -> list[pd.DataFrame]:
    """15-min rollups of ``TEMPLATES`` simulated sites (device ids normalised to ``T-<suffix>``)."""
    from heliosgrid.maintenance.frames import rollup_15m
    from heliosgrid.simulation import simulate_fleet

    templates = _fleet(0, TEMPLATES)
    sim = simulate_fleet(templates, END - timedelta(days=days), END, seed=11, faults="random",
                         fault_rate_per_device_month=3.0)
    rolled = rollup_15m(sim.readings)
    rolled["completeness"] = rolled["sample_count"] / 15.0  # as migration 0004: samples / nominal at 60 s
    if "poa_irradiation_kwh_m2" not in rolled:
        rolled["poa_irradiation_kwh_m2"] = rolled["poa_w_m2_avg"] * 0.25 / 1000.0
    return [rolled[rolled["site_id"] == s.site_id].assign(
        device_id=lambda f, s=s: f["device_id"].str.removeprefix(s.site_id)) for s in templates]


def _copy_rollups(conn: psycopg.Connection, sites: list[Any], templates: list[pd.DataFrame]) -> int:
    """COPY each site's template rollups under the site's own ids into ``readings_15m``."""
    columns = [c for c in templates[0].columns if c != "site_id"]
    table_cols = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'readings_15m'").fetchall()}
    columns = ["device_id", "site_id", *[c for c in columns if c != "device_id" and c in table_cols]]
    lo, hi = min(t["bucket"].min() for t in templates), max(t["bucket"].max() for t in templates)
    conn.execute("SELECT helios_ensure_partitions('readings_15m', %s, %s)", (lo.to_pydatetime(), hi.to_pydatetime()))
    rows = 0
    sql = f"COPY readings_15m ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for n, site in enumerate(sites):  # CSV text built by pandas per site: no Python loop per row
            frame = templates[n % len(templates)].copy()
            frame["site_id"] = site.site_id
            frame["device_id"] = site.site_id + frame["device_id"]
            copy.write(frame[columns].to_csv(index=False, header=False, date_format="%Y-%m-%d %H:%M:%S%z"))
            rows += len(frame)
    return rows


def _context() -> dict[str, Any]:
    return {"data_interval_start": END - timedelta(hours=1), "data_interval_end": END}


def _maintenance_batch(site_ids: list[str]) -> dict[str, Any]:
    from heliosgrid.orchestration.tasks import maintenance_batch_task

    return maintenance_batch_task(site_ids, _context())


def _per_site(kind: str, site_ids: list[str]) -> float:
    from heliosgrid.orchestration import tasks

    task = {"forecast": tasks.forecast_batch_task, "maintenance": tasks.maintenance_batch_task,
            "retrain": tasks.retrain_batch_task}[kind]
    t0 = time.perf_counter()
    summary = task(site_ids, _context())
    elapsed = time.perf_counter() - t0
    if summary["failed"] or summary["skipped"]:
        raise RuntimeError(f"{kind} bench sites failed or skipped: {summary['failed'] or summary['skipped']}")
    return elapsed / len(site_ids)


_THREAD_LIMIT: list[Any] = []


def _one_thread_per_worker() -> None:
    """Worker initializer: BLAS/OpenMP pools at one thread, as for any process-per-task executor
    (two processes × two BLAS threads on two cores would oversubscribe the CPU)."""
    from threadpoolctl import threadpool_limits

    _THREAD_LIMIT.append(threadpool_limits(1))


def _dag_wall_s(site_ids: list[str], workers: int) -> float:
    batches = [site_ids[i:i + WALL_BATCH] for i in range(0, len(site_ids), WALL_BATCH)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_one_thread_per_worker) as pool:
        t0 = time.perf_counter()
        results = list(pool.map(_maintenance_batch, batches))
        elapsed = time.perf_counter() - t0
    assert all(not r["failed"] for r in results), results
    return elapsed


def _projection(per_site: dict[str, float], efficiency: float) -> dict[str, int]:
    return {k: max(1, math.ceil(TARGET_SITES * per_site[k] / (SLA_WINDOW_S[k] * efficiency))) for k in per_site}


def _generate(url: str) -> tuple[list[str], list[pd.DataFrame], int]:
    """Migrate, register ``SITES`` sites and COPY their rollups; returns site ids, the week's
    templates (reused for the growth sites) and the rows written."""
    from heliosgrid.db.connection import open_connection
    from heliosgrid.db.migrate import migrate
    from heliosgrid.fleet import sync_fleet

    with open_connection(url, autocommit=True) as conn:
        migrate(conn, requested_backend="postgres")
        fleet = _fleet(0, SITES)
        sync_fleet(conn, fleet)
        week = _template_rollups(DAYS)
        rows = _copy_rollups(conn, fleet[SAMPLE_TRAIN:], week)
        rows += _copy_rollups(conn, fleet[:SAMPLE_TRAIN], _template_rollups(HISTORY_DAYS))
        conn.execute("ANALYZE")
    return [s.site_id for s in fleet], week, rows


def _grow(url: str, week: list[pd.DataFrame]) -> int:
    """Add sites up to ``GROWTH_SITES`` (same templates); returns the rows written."""
    from heliosgrid.db.connection import open_connection
    from heliosgrid.fleet import sync_fleet

    with open_connection(url, autocommit=True) as conn:
        more = _fleet(SITES, GROWTH_SITES - SITES)
        sync_fleet(conn, more)
        rows = _copy_rollups(conn, more, week)
        conn.execute("ANALYZE")
    return rows


def _measure(url: str) -> dict[str, Any]:
    clock = time.perf_counter()
    ids, week, rows = _generate(url)
    generate_s = time.perf_counter() - clock
    train_ids, maint_ids = ids[:SAMPLE_TRAIN], ids[SAMPLE_TRAIN:SAMPLE_TRAIN + SAMPLE_MAINT]
    per_site = {"retrain": _per_site("retrain", train_ids)}
    per_site["forecast"] = _per_site("forecast", train_ids)
    per_site["maintenance"] = _per_site("maintenance", maint_ids)
    wall_ids = ids[SAMPLE_TRAIN:SAMPLE_TRAIN + WALL_SITES]
    wall = {"parallelism_1": _dag_wall_s(wall_ids, 1), "parallelism_2": _dag_wall_s(wall_ids, 2)}
    growth: dict[str, Any] = {"sites": [SITES], "per_site_s": {k: [per_site[k]] for k in ("maintenance", "forecast")}}
    if GROWTH_SITES > SITES:
        rows += _grow(url, week)
        growth["sites"].append(GROWTH_SITES)
        growth["per_site_s"]["maintenance"].append(_per_site("maintenance", maint_ids))
        growth["per_site_s"]["forecast"].append(_per_site("forecast", train_ids))
    return {"ids": ids, "rows": rows, "generate_s": generate_s, "per_site": per_site, "wall": wall, "growth": growth,
            "samples": {"retrain": len(train_ids), "forecast": len(train_ids), "maintenance": len(maint_ids)},
            "wall_sites": len(wall_ids)}


def _report(m: dict[str, Any]) -> dict[str, Any]:
    wall, per_site = m["wall"], m["per_site"]
    ratio = wall["parallelism_2"] / wall["parallelism_1"]
    efficiency = min(1.0, wall["parallelism_1"] / (2 * wall["parallelism_2"]))
    return {
        "sites": SITES,
        "inverters_per_site": INVERTERS,
        "days": DAYS,
        "rollup_rows": m["rows"],
        "generate_s": round(m["generate_s"], 1),
        "per_site_s": {k: round(v, 3) for k, v in per_site.items()},
        "per_site_sample": m["samples"],
        "dag_wall_s": {k: round(v, 2) for k, v in wall.items()},
        "dag_wall_run": f"heliosgrid_maintenance mapped over {m['wall_sites']} sites in batches of {WALL_BATCH}, "
                        "1 vs 2 worker processes (LocalExecutor parallelism 1 vs 2)",
        "parallelism_2_over_1": round(ratio, 3),
        "parallel_efficiency": round(efficiency, 3),
        "target_ratio_max": 0.65,
        "target_met": ratio <= 0.65,
        "sla_window_s": SLA_WINDOW_S,
        "workers_needed_10k_sites": _projection(per_site, efficiency),
        "growth": {"sites": m["growth"]["sites"],
                   "per_site_s": {k: [round(v, 3) for v in vs] for k, vs in m["growth"]["per_site_s"].items()}},
        "cpu_count": os.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def run() -> dict[str, Any]:
    from heliosgrid.environ import patched_environ
    from heliosgrid.settings import get_settings

    server = os.environ.get("HELIOS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"helios_bench_fleet_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    env = {"HELIOS_DATABASE_URL": url, "HELIOS_MODELS_DIR": tempfile.mkdtemp(prefix="helios-bench-fleet-"),
           "AIRFLOW_CONN_HELIOSGRID_DB": None}
    try:
        with patched_environ(env):
            get_settings.cache_clear()
            return _report(_measure(url))
    finally:
        get_settings.cache_clear()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
