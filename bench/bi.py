"""BI benchmark: every query the Power BI report and the dashboard send, over a year of 15-min data.

``heliosgrid bench bi --json`` (or ``python -m bench bi``). For each backend — plain PostgreSQL
(a fresh database on ``HELIOS_TEST_PG_URL``/127.0.0.1:5432, dropped at the end) and native
TimescaleDB (a private cluster from :func:`heliosgrid.db.timescale_server.start_native_timescale`)
— the fleet grows through ``FLEETS`` sites (default 5, 20, 50, plus 10 for the issue's
examples; 10 inverters each, one year of 15-min data ending now), and at each size every query
of :data:`bench.bi_queries.REPORT_QUERIES`, :data:`bench.bi_queries.EXAMPLE_QUERIES` and of the dashboard
(:data:`heliosgrid.api.routers.insights.DASHBOARD_QUERIES`) is timed. Sizes come from
settings ``HELIOS_BENCH_BI_FLEETS`` (5,20,50), ``HELIOS_BENCH_BI_INVERTERS`` (10), ``HELIOS_BENCH_BI_DAYS`` (365).

Figures:

* ``cold_ms`` — first execution on a new connection (empty plan/catalogue caches; the OS page
  cache is not dropped, which needs root over the shared server);
* ``p50_ms``/``p95_ms`` — warm, over ``WARM_RUNS`` executions after one warm-up.

Each figure is the time until the complete result is in the client (libpq), fetched in binary
format as Npgsql (Power BI's PostgreSQL driver) receives it; turning rows into Python objects is
not counted (a site-year of 15-min rows costs 70-150 ms of Python alone on this machine).
``loadavg_1m`` records the machine's load before and after each fleet's measurement. Before it the
whole database is vacuumed and analysed (:func:`bench.bi_measure.vacuum_all`: the synthesised year's rows, as
autovacuum keeps a live database), then the bench waits until no autovacuum worker runs
(``autovacuum_wait_s``, :func:`bench.bi_measure.settle_autovacuum`); ``autovacuumed_while_timing`` lists the tables
autovacuum still touched during the timing (empty in a clean measurement); ``calibration_ms`` the
warm p50 of a fixed one-million-row aggregate timed before and after the fleet's queries (the
machine's speed at that moment: growth between fleets is also given relative to it);
``tail_refresh_ms`` (TimescaleDB) the median cost of the consumer's refresh of the newest site and
fleet 15-min buckets at that fleet size (:func:`heliosgrid.db.serving.refresh_serving_tail`, ADR 0290).

Output: ``backends.<name>.fleets.<sites>.queries.<query>.{p50_ms, p95_ms, cold_ms, rows}``,
``backends.<name>.fleets.<sites>.max_p95_ms`` (the report's and dashboard's queries; the literal
examples apart: ``examples_max_p95_ms``), ``backends.<name>.max_p95_ms`` (all fleets),
``backends.<name>.growth.<small>_to_<big>`` = p50 ratios between fleet sizes with the site ratio
(per query, and ``pages_p50_ratio``/``sublinear`` for all pages together),
and ``backends.<name>.issue_examples`` — the issue's five example queries written literally
against the ``bi`` views (:data:`EXAMPLE_QUERIES`) at :data:`EXAMPLES_FLEET` sites, the issue's
table. Baseline measured in the same run: the five examples on the pre-serving-layer
definitions (device rows aggregated per query, migrations 0040/0042), once each at the default
fleet — ``baseline.<query>.ms`` and ``ratio`` (serving-layer p50 / baseline).

Data synthesis (a year in minutes, not hours): device 15-min rollup rows before the last
:data:`RAW_DAYS` days (the raw retention) come straight from ``generate_series`` into
``readings_15m`` (plain PostgreSQL) or its materialisation hypertable (TimescaleDB); the last
:data:`RAW_DAYS` days are raw readings, one per device and 15 minutes. Then the serving layer
is refreshed through the real refresh path (``helios_refresh_rollups()`` on PostgreSQL;
``refresh_continuous_aggregate`` and :func:`heliosgrid.db.serving.refresh_serving_layer` on
TimescaleDB, whose synthesised year is materialised for the new sites only — see
:func:`_refresh_timescale`). Irradiance is a clear-sky-like daily arc scaled by a per-site-day
cloud factor; power follows the PVWatts model with noise.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.bi_measure import (
    CALIBRATION_SETUP,
    TARGET_P95_MS,
    autovacuumed_since,
    calibration_ms,
    fleet_growth,
    fleet_maxima,
    measure_queries,
    settle_autovacuum,
    time_query,
    vacuum_all,
)
from bench.bi_queries import BASELINE_QUERIES, EXAMPLE_QUERIES, EXAMPLES_FLEET, ISSUE_EXAMPLES, REPORT_QUERIES
from heliosgrid.api.routers.insights import DASHBOARD_QUERIES
from heliosgrid.db.connection import open_connection, with_database
from heliosgrid.db.migrate import migrate
from heliosgrid.db.serving import refresh_serving_layer, refresh_serving_tail
from heliosgrid.settings import load_settings

SERVER_URL = os.environ.get("HELIOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEFAULT_FLEET = 20
WARM_RUNS = 25
INVERTERS = 10
TIMEZONES = ("Europe/Madrid", "Europe/Berlin", "America/Denver", "Australia/Sydney", "Asia/Kolkata")

# One device 15-min bucket of synthetic values; %(…)s bound per call, t = bucket start. Weather
# (irradiance, ambient) is computed once per site and bucket (MATERIALIZED: inlined, each
# reference to poa would re-evaluate its time-zone arithmetic per inverter row), then spread over
# the inverters.
_VALUES = """
    WITH w AS MATERIALIZED (
        SELECT s.site_id, t,
               greatest(0.0, 1000.0 * sin(pi() * (extract(hour FROM t AT TIME ZONE s.timezone)
                        + extract(minute FROM t AT TIME ZONE s.timezone) / 60.0 + 0.125 - 6.0) / 12.0))
                 * (0.35 + 0.65 * abs(sin(hashtext(s.site_id || (t AT TIME ZONE s.timezone)::date::text)))) AS poa,
               12.0 + 8.0 * sin(2 * pi() * extract(doy FROM t) / 365.0) AS amb
        FROM sites s,
             generate_series(%(start)s::timestamptz, %(stop)s::timestamptz - INTERVAL '15 minutes', INTERVAL '15 minutes') AS t
        WHERE s.site_id = ANY(%(sites)s))
    SELECT d.device_id, w.site_id, w.t, w.poa, w.amb, w.amb + 0.03 * w.poa AS tmod,
           least(250.0, 300.0 * w.poa / 1000.0 * (1 - 0.004 * (w.amb + 0.03 * w.poa - 25)) * 0.96)
             * (0.93 + 0.05 * random()) AS ac
    FROM w JOIN devices d ON d.site_id = w.site_id AND d.kind = 'inverter'"""

RAW_DAYS = 30
"""Days of raw readings loaded before ``end`` (the default raw retention): the rest of the year is
synthesised as device 15-min rollup rows."""


def _sites(conn: psycopg.Connection, first: int, last: int) -> list[str]:
    ids = [f"bench-s{i:03d}" for i in range(first, last)]
    for i, site in zip(range(first, last), ids, strict=True):
        conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, timezone, dc_capacity_kw, ac_capacity_kw, "
                     "tariff_per_kwh) VALUES (%s, %s, %s, %s, %s, %s, %s, 0.08)",
                     (site, f"Plant {i:03d}", 36.0 + (i % 20), -5.0 + (i % 30), TIMEZONES[i % len(TIMEZONES)],
                      300.0 * INVERTERS, 250.0 * INVERTERS))
        conn.execute("INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, dc_capacity_kw, ac_capacity_kw) "
                     "SELECT %s || '-inv' || lpad(j::text, 2, '0'), %s, 'inverter', 30, 300, 250 FROM generate_series(1, %s) j",
                     (site, site, INVERTERS))
    return ids


def _device_rollup_relation(conn: psycopg.Connection, backend: str) -> str:
    """Where device 15-min rollup rows are stored: the ``readings_15m`` table (plain PostgreSQL) or
    the materialisation hypertable of the ``readings_15m`` continuous aggregate (TimescaleDB; its
    finalized form has the view's columns)."""
    if backend == "postgres":
        return "readings_15m"
    row = conn.execute("SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) "
                       "FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_15m'").fetchone()
    if row is None:
        raise RuntimeError("readings_15m continuous aggregate not found")
    return str(row[0])


def _load_device_rollups(conn: psycopg.Connection, backend: str, sites: list[str], start: datetime, stop: datetime) -> None:
    """Set-based synthesis of the device 15-min rollup rows of [start, stop) (one INSERT ... SELECT)."""
    if stop <= start:
        return
    relation = _device_rollup_relation(conn, backend)
    if backend == "postgres":
        conn.execute("SELECT helios_ensure_partitions('readings_15m', %s, %s)", (start, stop))
    conn.execute(
        f"INSERT INTO {relation} (device_id, site_id, bucket, sample_count, completeness, poa_w_m2_avg, poa_w_m2_min, "
        "poa_w_m2_max, ambient_temp_c_avg, module_temp_c_avg, ac_power_kw_avg, ac_power_kw_min, ac_power_kw_max, "
        "energy_kwh, poa_irradiation_kwh_m2, status_ok_count) "
        f"SELECT device_id, site_id, t, 15, 1.0, poa, poa, poa, amb, tmod, ac, ac, ac, ac * 0.25, poa * 0.25 / 1000.0, 15 FROM "
        f"({_VALUES}) v",
        {"start": start, "stop": stop, "sites": sites})


def _load_raw(conn: psycopg.Connection, sites: list[str], start: datetime, end: datetime) -> None:
    if conn.execute("SELECT to_regprocedure('helios_ensure_partitions(text,timestamptz,timestamptz)')").fetchone() != (None,):
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (start, end))
    conn.execute(
        "INSERT INTO readings (device_id, ts, site_id, poa_w_m2, ambient_temp_c, module_temp_c, ac_power_kw, inverter_status, "
        "seq) "
        f"SELECT device_id, t, site_id, poa, amb, tmod, ac, 'ok', extract(epoch FROM t)::bigint FROM ({_VALUES}) v",
        {"start": start, "stop": end, "sites": sites})


FORECASTS = (
    "INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw) "
    "SELECT s, 'bench-v1', i, i + h * INTERVAL '15 minutes', h * 15, 0.8 * p, p, 1.2 * p FROM unnest(%(sites)s::text[]) s, "
    "generate_series(%(first)s::timestamptz, %(last)s::timestamptz, %(every)s::interval) i, generate_series(0, 191) h, "
    "LATERAL (SELECT greatest(0.0, 2400.0 * sin(pi() * (((extract(epoch FROM i)::bigint / 900 + h) %% 96) / 4.0 - 6.0) / 12.0)) "
    "AS p) x")


def _load_context(conn: psycopg.Connection, sites: list[str], end: datetime) -> None:
    """Forecasts (48 h ahead: one issue a day over the last 60 days, then one an hour over the last
    two days, as the hourly forecast DAG leaves them), alerts and data-quality results."""
    day0 = end.replace(hour=0, minute=0, second=0, microsecond=0)
    hourly_from = day0 - timedelta(days=2)
    conn.execute(FORECASTS, {"sites": sites, "first": day0 - timedelta(days=60), "last": hourly_from - timedelta(days=1),
                             "every": timedelta(days=1)})
    conn.execute(FORECASTS, {"sites": sites, "first": hourly_from, "last": end, "every": timedelta(hours=1)})
    conn.execute(
        "INSERT INTO alerts (site_id, device_id, source, fault_type, severity, state, started_at, last_seen_at, title, "
        "energy_lost_kwh, revenue_lost) SELECT s, s || '-inv01', 'maintenance', "
        "(ARRAY['soiling','string_outage','inverter_trip','clipping','sensor_drift'])[1 + k %% 5], 'warning', "
        "CASE WHEN k < 22 THEN 'resolved' ELSE (ARRAY['open','acknowledged'])[1 + k %% 2] END, "
        "%(end)s::timestamptz - (k * 15) * INTERVAL '1 day', %(end)s::timestamptz - (k * 15 - 2) * INTERVAL '1 day', 'bench', "
        "50.0 * (k %% 7), 4.0 * (k %% 7) FROM unnest(%(sites)s::text[]) s, generate_series(0, 23) k",
        {"sites": sites, "end": end})
    conn.execute(
        "INSERT INTO dq_results (check_name, site_id, window_start, window_end, passed, checked_at) "
        "SELECT c, s, w, w + INTERVAL '1 hour', random() > 0.05, w + INTERVAL '1 hour' FROM unnest(%(sites)s::text[]) s, "
        "unnest(ARRAY['freshness','completeness','range','stuck','clock']) c, "
        "generate_series(%(end)s::timestamptz - INTERVAL '30 days', %(end)s::timestamptz - INTERVAL '1 hour', INTERVAL '1 "
        "hour') w",
        {"sites": sites, "end": end})


def _grow(conn: psycopg.Connection, backend: str, first: int, last: int, start: datetime, end: datetime) -> float:
    """Add sites ``first``..``last``-1 with a year of data, refresh the serving layer; returns seconds.

    Device 15-min rollup rows before the last :data:`RAW_DAYS` days are synthesised directly; the
    last :data:`RAW_DAYS` days are raw readings that the device refresh aggregates. Then the
    serving layer is refreshed (see :func:`_refresh_postgres`, :func:`_refresh_timescale`)."""
    t0 = time.perf_counter()
    raw_start = max(start, (end - timedelta(days=RAW_DAYS)).replace(hour=0, minute=0))
    conn.autocommit = False
    sites = _sites(conn, first, last)
    if backend == "postgres":
        _load_postgres_rollups(conn, sites, start, raw_start)
    else:
        _load_device_rollups(conn, backend, sites, start, raw_start)
    _load_raw(conn, sites, raw_start, end)
    _load_context(conn, sites, end)
    conn.commit()
    conn.autocommit = True
    # statistics as autovacuum keeps them on a live database (fresh partitions/chunks have none)
    conn.execute("ANALYZE readings" if backend == "timescaledb" else "ANALYZE readings, readings_15m")
    if backend == "postgres":
        conn.execute("SELECT helios_refresh_rollups()")
    else:
        _refresh_timescale(conn, sites, start, raw_start, end)
    vacuum_all(conn)
    return time.perf_counter() - t0


def _load_postgres_rollups(conn: psycopg.Connection, sites: list[str], start: datetime, stop: datetime) -> None:
    """Plain PostgreSQL: synthesise the device rows with the site-invalidation trigger off, then log
    the (site, bucket) pairs once each — what the trigger would log, 10x fewer rows — so that
    ``helios_refresh_rollups()`` (the real refresh path) builds the site/fleet rollups, KPI days
    and accuracy rows from them."""
    conn.execute("ALTER TABLE readings_15m DISABLE TRIGGER readings_15m_site_inval_ins")
    _load_device_rollups(conn, "postgres", sites, start, stop)
    conn.execute("ALTER TABLE readings_15m ENABLE TRIGGER readings_15m_site_inval_ins")
    conn.execute("INSERT INTO site_rollup_invalidations (site_id, bucket) SELECT s, t FROM unnest(%(sites)s::text[]) s, "
                 "generate_series(%(start)s::timestamptz, %(stop)s::timestamptz - INTERVAL '15 minutes', "
                 "INTERVAL '15 minutes') t",
                 {"sites": sites, "start": start, "stop": stop})


def _cagg_relations(conn: psycopg.Connection) -> dict[str, tuple[str, str, list[str]]]:
    """TimescaleDB: continuous aggregate -> (its direct view: the defining query, its
    materialisation hypertable, its columns)."""
    rows = conn.execute(
        "SELECT c.user_view_name, format('%I.%I', c.direct_view_schema, c.direct_view_name), "
        "format('%I.%I', h.schema_name, h.table_name), "
        "(SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = "
        " format('%I.%I', c.user_view_schema, c.user_view_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped) "
        "FROM _timescaledb_catalog.continuous_agg c JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id"
    ).fetchall()
    return {str(view): (str(direct), str(mat), list(cols)) for view, direct, mat, cols in rows}


def _refresh_timescale(conn: psycopg.Connection, sites: list[str], start: datetime, raw_start: datetime, end: datetime) -> None:
    """TimescaleDB: the raw window [raw_start, end) goes through the real refresh path
    (``refresh_continuous_aggregate`` of ``readings_15m``, then
    :func:`heliosgrid.db.serving.refresh_serving_layer`). The synthesised year before it is
    materialised for the new sites only — a cagg refresh is by time range, so growing the fleet
    would recompute every site's year at each step, six times over the device rows: the site
    15-min aggregate runs its own defining query (TimescaleDB's direct view) restricted to the
    new sites; the coarser site and the fleet aggregates, whose columns are all sums (mean powers
    scaled by 0.25 h / bucket hours), are summed from the site 15-min rows — as
    ``helios_refresh_site_rollups()`` builds them on plain PostgreSQL; the KPI days and accuracy
    rows are logged/recomputed by their refresh functions. Materialisation hypertables are read
    directly: until its first refresh, a real-time view recomputes everything above its watermark."""
    conn.execute("CALL refresh_continuous_aggregate('readings_15m', %s::timestamptz, %s::timestamptz)", (raw_start, end))
    relations = _cagg_relations(conn)
    window = {"sites": sites, "start": start, "stop": raw_start}
    direct, site_mat, cols = relations["site_rollup_15m"]
    conn.execute(f"INSERT INTO {site_mat} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {direct} "
                 "WHERE site_id = ANY(%(sites)s) AND bucket >= %(start)s AND bucket < %(stop)s", window)
    for width, hours in (("15m", 0.25), ("1h", 1.0), ("1d", 24.0)):
        for level, where, key in (("site", "site_id = ANY(%(sites)s) AND ", "site_id, "), ("fleet", "", "")):
            _, mat, cols = relations[f"{level}_rollup_{width}"]
            if (level, width) == ("site", "15m"):
                continue
            summed = [c for c in cols if c not in ("site_id", "bucket")]
            terms = ", ".join(f"sum({c}) * {0.25 / hours if c.endswith('power_kw') else 1.0}" for c in summed)
            bucket = f"time_bucket(INTERVAL '{hours} hours', bucket)"
            if level == "fleet":
                conn.execute(f"DELETE FROM {mat} WHERE bucket >= %(start)s AND bucket < %(stop)s", window)
            conn.execute(f"INSERT INTO {mat} ({key}bucket, {', '.join(summed)}) SELECT {key}{bucket}, {terms} "
                         f"FROM {site_mat} WHERE {where}bucket >= %(start)s AND bucket < %(stop)s GROUP BY {key}{bucket}",
                         window)
    refresh_serving_layer(conn, raw_start, end)
    conn.execute("INSERT INTO kpi_day_invalidations (site_id, day) SELECT s.site_id, d::date FROM sites s, "
                 "generate_series((%(start)s AT TIME ZONE s.timezone)::date, (%(stop)s AT TIME ZONE s.timezone)::date, "
                 "INTERVAL '1 day') d WHERE s.site_id = ANY(%(sites)s)", window)
    conn.execute("SELECT helios_refresh_kpi_days()")
    conn.execute("SELECT helios_refresh_forecast_accuracy(%(start)s, %(stop)s)", window)


@contextmanager
def _database(backend: str) -> Iterator[str]:
    name = f"helios_bench_bi_{uuid.uuid4().hex[:8]}"
    if backend == "postgres":
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(SERVER_URL, name)
        finally:
            with psycopg.connect(SERVER_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    from heliosgrid.db.timescale_server import start_native_timescale

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = start_native_timescale(port)
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        yield with_database(server.url, name)
    finally:
        server.stop()


def _run_backend(backend: str, fleets: tuple[int, ...], days: int, warm_runs: int) -> dict[str, Any]:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    end = end - timedelta(minutes=end.minute % 15)
    start = end - timedelta(days=days)
    queries = {**REPORT_QUERIES, **DASHBOARD_QUERIES, **EXAMPLE_QUERIES}
    result: dict[str, Any] = {"fleets": {}, "baseline": {}, "issue_examples": {}}
    with _database(backend) as url, open_connection(url, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        migrate(conn, requested_backend=backend)
        for statement in CALIBRATION_SETUP:
            conn.execute(statement)
        if backend == "timescaledb":
            _pause_jobs(conn)
        with psycopg.connect(url) as fresh:  # database-level settings (0140) apply to new sessions, as the bench's
            result["settings"] = {name: str(fresh.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                                  for name in ("random_page_cost", "max_parallel_workers_per_gather", "jit")}
        have = 0
        for size in sorted(fleets):
            load_s = _grow(conn, backend, have, size, start, end)
            have = size
            params = {"end": end, "site": "bench-s001", "day": end - timedelta(days=1), "as_of": end, "days": 30, "hours": 24 * 7}
            settle_s = settle_autovacuum(conn)
            load_before = os.getloadavg()[0]
            measure_start = datetime.now(UTC)
            cal_before = calibration_ms(url, warm_runs)
            measured = measure_queries(url, queries, params, warm_runs)
            cal_ms = round((cal_before + calibration_ms(url, warm_runs)) / 2.0, 2)
            autovacuumed = autovacuumed_since(conn, measure_start)
            result["fleets"][str(size)] = {"loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                                           "sites": size, "inverters": size * INVERTERS, "load_and_refresh_s": round(load_s, 1),
                                           "autovacuum_wait_s": round(settle_s, 1), "autovacuumed_while_timing": autovacuumed,
                                           "calibration_ms": cal_ms,
                                           "tail_refresh_ms": _tail_refresh_ms(conn, backend, end),
                                           "device_rows_15m": size * INVERTERS * days * 96, "queries": measured,
                                           **fleet_maxima(measured)}
            # progress line per fleet on stderr, so a long run that is stopped still leaves its figures
            print(json.dumps({"backend": backend, **result["fleets"][str(size)]}, default=str), file=sys.stderr, flush=True)
            if size == DEFAULT_FLEET:
                result["baseline"] = _baseline(conn, params, measured)
            if size == EXAMPLES_FLEET:
                examples = {name: measured[name] for name in EXAMPLE_QUERIES}
                result["issue_examples"] = {"sites": size, "queries": examples,
                                            "max_p95_ms": max(q["p95_ms"] for q in examples.values()),
                                            "all_within_target": all(q["p95_ms"] <= TARGET_P95_MS for q in examples.values())}
    result["max_p95_ms"] = max(f["max_p95_ms"] for f in result["fleets"].values())
    result["growth"] = fleet_growth(result["fleets"], fleets)
    return result


def _tail_refresh_ms(conn: psycopg.Connection, backend: str, end: datetime, runs: int = 5) -> float | None:
    """TimescaleDB: median ms of the consumer's tail refresh (:func:`refresh_serving_tail`, the newest
    hour of the site and fleet 15-min aggregates, ADR 0290) at this fleet size; None on PostgreSQL."""
    if backend != "timescaledb":
        return None
    return round(statistics.median(refresh_serving_tail(conn, end) * 1000.0 for _ in range(runs)), 1)


def _pause_jobs(conn: psycopg.Connection, timeout_s: float = 120.0) -> None:
    """Remove the policy jobs and wait for running ones: the benchmark drives the refreshes
    itself, and TimescaleDB refuses a refresh overlapping one a job is running."""
    # delete (not just unschedule) the jobs: an unscheduled job already queued by the scheduler still ran;
    # a job starting meanwhile can deadlock with delete_job (job lock vs its table locks): retry
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("SELECT delete_job(job_id) FROM timescaledb_information.jobs WHERE job_id >= 1000")
            break
        except psycopg.errors.DeadlockDetected:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    while time.monotonic() < deadline:  # job workers show as "<job name> [<job id>]" in pg_stat_activity
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name ~ '\\[[0-9]+\\]$'").fetchone()
        if not row or row[0] == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("TimescaleDB policy jobs still running after unscheduling them")


def _baseline(conn: psycopg.Connection, params: dict[str, Any], measured: dict[str, dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, query in BASELINE_QUERIES.items():
        ms, _ = time_query(conn, query, params)
        new_ms = measured[ISSUE_EXAMPLES[name]]["p50_ms"]
        out[name] = {"ms": round(ms, 1), "serving_p50_ms": new_ms, "query": ISSUE_EXAMPLES[name],
                     "ratio": round(new_ms / ms, 5) if ms else None}
    return out


def run(backend: str = "both", warm_runs: int = WARM_RUNS) -> dict[str, Any]:
    """Run the benchmark on ``backend`` (``postgres``, ``timescaledb`` or ``both``; the CLI's
    ``--backend``) — see the module docstring for the JSON layout."""
    global INVERTERS
    backends = ("postgres", "timescaledb") if backend == "both" else (backend,)
    settings = load_settings()
    fleets = tuple(sorted({int(x) for x in settings.bench_bi_fleets.split(",")} | {EXAMPLES_FLEET}))
    days = settings.bench_bi_days
    INVERTERS = settings.bench_bi_inverters
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        b: (lambda b=b: _run_backend(b, fleets, days, warm_runs)) for b in backends}  # type: ignore[misc]
    started = time.perf_counter()
    out: dict[str, Any] = {"fleets": list(fleets), "inverters_per_site": INVERTERS, "days": days, "warm_runs": warm_runs,
                           "target_warm_p95_ms": TARGET_P95_MS, "backends": {}}
    for name, runner in runners.items():
        out["backends"][name] = runner()
    out["elapsed_s"] = round(time.perf_counter() - started, 1)
    return out
