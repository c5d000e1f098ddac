"""The BI serving layer (migrations 0070-0073, 0100-0102, 0140-0142) on both backends: site/fleet rollups and materialised
KPI days equal the live definitions, late data reaches them, TimescaleDB and plain PostgreSQL
agree, and no report or dashboard query scans device-level 15-min rows beyond one site-day."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from serving_rows import close as _close
from serving_rows import same_rows as _same

from bench.bi_queries import BASELINE_QUERIES, EXAMPLE_QUERIES, REPORT_QUERIES
from heliosgrid.api.routers.insights import DASHBOARD_QUERIES
from heliosgrid.db.connection import open_connection
from heliosgrid.db.rollups import ensure_partitions, refresh_rollups

pytestmark = pytest.mark.integration

START = datetime(2024, 3, 9, tzinfo=UTC)
END = START + timedelta(days=3)
SITES = {"srv-site-utc": "UTC", "srv-site-syd": "Australia/Sydney"}
INVERTERS = 3
WINDOW = {"start": START - timedelta(days=2), "end": END + timedelta(days=2)}

RAW = """
INSERT INTO readings (device_id, ts, site_id, poa_w_m2, ambient_temp_c, module_temp_c, ac_power_kw, inverter_status, seq)
SELECT d.device_id, t, d.site_id, p.poa, 15.0, 15.0 + 0.03 * p.poa,
       CASE WHEN d.kind = 'inverter' THEN p.poa * 0.26 * (0.9 + 0.1 * ((extract(epoch FROM t)::bigint / 300) %% 7) / 7.0) END,
       CASE WHEN d.kind = 'inverter' THEN (CASE WHEN p.poa > 0 THEN 'ok' ELSE 'standby' END) END,
       extract(epoch FROM t)::bigint + %(seq)s
FROM devices d
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - INTERVAL '5 minutes', INTERVAL '5 minutes') AS t
CROSS JOIN LATERAL (SELECT greatest(0.0, 1000.0 * sin(pi() * (extract(hour FROM t AT TIME ZONE s.timezone)
                    + extract(minute FROM t AT TIME ZONE s.timezone) / 60.0 - 6.0) / 12.0)) * %(scale)s AS poa
                    FROM sites s WHERE s.site_id = d.site_id) p
WHERE d.site_id = ANY(%(sites)s)
ON CONFLICT (device_id, ts) DO UPDATE SET ac_power_kw = EXCLUDED.ac_power_kw, poa_w_m2 = EXCLUDED.poa_w_m2,
    module_temp_c = EXCLUDED.module_temp_c, seq = EXCLUDED.seq
"""


def _seed(conn: psycopg.Connection) -> None:
    for site, tz in SITES.items():
        conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, timezone, dc_capacity_kw, ac_capacity_kw, "
                     "tariff_per_kwh) VALUES (%s, %s, 40, 0, %s, 900, 750, 0.1)", (site, site, tz))
        for i in range(INVERTERS):
            conn.execute("INSERT INTO devices (device_id, site_id, kind, dc_capacity_kw, ac_capacity_kw) "
                         "VALUES (%s, %s, 'inverter', 300, 250)", (f"{site}-inv{i}", site))
        conn.execute("INSERT INTO devices (device_id, site_id, kind) VALUES (%s, %s, 'weather_station')", (f"{site}-ws", site))


def _load(conn: psycopg.Connection, start: datetime, end: datetime, scale: float, seq: int) -> None:
    ensure_partitions(conn, "readings", start, end)
    conn.execute(RAW, {"start": start, "end": end, "scale": scale, "seq": seq, "sites": list(SITES)})  # type: ignore[arg-type]


def _rows(conn: psycopg.Connection, query: str) -> list[tuple[Any, ...]]:
    return conn.execute(query, {"sites": list(SITES)}).fetchall()  # type: ignore[arg-type]


SNAPSHOTS = {
    "site_power_15m": "SELECT site_id, bucket, ac_power_kw, expected_ac_power_kw, energy_kwh, poa_w_m2, availability "
                      "FROM bi.site_power_15m WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2",
    "site_power_1h": "SELECT site_id, bucket, ac_power_kw, expected_ac_power_kw, energy_kwh FROM bi.site_power_1h "
                     "WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2",
    "site_power_1d": "SELECT site_id, bucket, ac_power_kw, energy_kwh, expected_energy_kwh FROM bi.site_power_1d "
                     "WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2",
    "site_kpi_daily": "SELECT site_id, day, inverters, energy_kwh, performance_ratio, performance_ratio_temp_corr, availability, "
                      "expected_energy_kwh, lost_energy_kwh, revenue FROM bi.site_kpi_daily WHERE site_id = ANY(%(sites)s) "
                      "ORDER BY 1, 2",
    "device_kpi_daily": "SELECT device_id, day, energy_kwh, performance_ratio, availability, lost_energy_kwh "
                        "FROM bi.device_kpi_daily WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2",
    "site_kpi_monthly": "SELECT site_id, month, days, energy_kwh, specific_yield_kwh_kwp, performance_ratio, availability, "
                        "lost_energy_kwh, revenue_lost FROM bi.site_kpi_monthly WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2",
}
# The live definitions the materialised relations must equal.
LIVE = {
    "site_power_15m": "SELECT site_id, bucket, sum(ac_power_kw_avg), sum(expected_ac_power_kw), sum(energy_kwh), "
                      "avg(poa_w_m2_avg), sum(status_ok_count)::float8 / nullif(sum(sample_count), 0) FROM bi.device_power_15m p "
                      "JOIN devices d USING (device_id, site_id) WHERE d.kind = 'inverter' AND site_id = ANY(%(sites)s) "
                      "GROUP BY 1, 2 ORDER BY 1, 2",
    "site_kpi_daily": "SELECT k.site_id, k.local_day, k.inverters, k.energy_kwh, k.performance_ratio, "
                      "k.performance_ratio_temp_corr, k.availability, k.expected_energy_kwh, k.lost_energy_kwh, "
                      "k.energy_kwh * 0.1 FROM maintenance_kpi_site_day k "
                      "WHERE k.site_id = ANY(%(sites)s) ORDER BY 1, 2",
    # months summed from the (live-checked) KPI days
    "site_kpi_monthly": "SELECT site_id, date_trunc('month', day)::date, count(*), sum(energy_kwh), "
                        "sum(energy_kwh) / nullif(sum(coalesce(dc_capacity_kw, 0)) / count(*), 0), "
                        "sum(energy_kwh) / nullif(sum(coalesce(reference_energy_kwh, 0)), 0), "
                        "sum(producing_buckets)::float8 / nullif(sum(daylight_buckets), 0), sum(coalesce(lost_energy_kwh, 0)), "
                        "sum(coalesce(revenue_lost, 0)) FROM bi.site_kpi_daily WHERE site_id = ANY(%(sites)s) "
                        "GROUP BY 1, 2 ORDER BY 1, 2",
}


def _snapshot(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    out = {name: _rows(conn, q) for name, q in SNAPSHOTS.items()}
    out.update({f"live_{name}": _rows(conn, q) for name, q in LIVE.items()})
    out["fleet_vs_sites"] = _rows(conn, (
        "SELECT f.bucket, f.energy_kwh, s.energy_kwh FROM bi.fleet_power_1h f JOIN (SELECT bucket, sum(energy_kwh) AS energy_kwh "
        "FROM bi.site_power_1h GROUP BY bucket) s USING (bucket) WHERE f.bucket >= TIMESTAMPTZ '2024-03-07' "
        "AND f.bucket < TIMESTAMPTZ '2024-03-15' ORDER BY 1"))
    return out


def _run(conn: psycopg.Connection) -> dict[str, Any]:
    """Load 3 days, refresh; late correction of the first day (ac power ×0.5), refresh again;
    then EXPLAIN ANALYZE every report and dashboard query."""
    _seed(conn)
    _load(conn, START, END, 1.0, 0)
    refresh_rollups(conn, **WINDOW)
    first = _snapshot(conn)
    _load(conn, START + timedelta(hours=2), START + timedelta(hours=20), 0.5, 10**9)
    refresh_rollups(conn, **WINDOW)
    return {"first": first, "final": _snapshot(conn), "explain": _explain_all(conn),
            "monthly_groups_estimate": _monthly_groups_estimate(conn)}


# Device-level 15-min rows of one site-day (4 devices x 96 buckets): the most a report query may read.
# Raw readings (5-min cadence here) count as 1/3 of a 15-min row each.
ONE_SITE_DAY_ROWS = (INVERTERS + 1) * 96
RAW_PER_15M = 3
PARAMS = {"end": END, "site": "srv-site-utc", "day": START + timedelta(days=1), "as_of": END, "days": 30, "hours": 24 * 7}


def _device_level_relations(conn: psycopg.Connection) -> dict[str, float]:
    """readings (weight 1/RAW_PER_15M) and readings_15m (weight 1) with their partitions or chunks."""
    weights: dict[str, float] = {}
    timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone() is not None
    for parent, weight in (("readings", 1.0 / RAW_PER_15M), ("readings_15m", 1.0)):
        names = {parent} | {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            (parent,))}
        if timescale:
            hypertable = parent if parent == "readings" else conn.execute(
                "SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates "
                "WHERE view_name = %s", (parent,)).fetchone()[0]  # type: ignore[index]
            names |= {hypertable} | {r[0] for r in conn.execute(
                "SELECT chunk_name FROM timescaledb_information.chunks WHERE hypertable_name = %s", (hypertable,))}
        weights.update(dict.fromkeys(names, weight))
    return weights


def _scanned(plan: dict[str, Any], relations: dict[str, float]) -> float:
    """Device-level 15-min rows read by the plan: (rows returned + removed by filter) x loops, weighted."""
    own = 0.0
    # TimescaleDB's ChunkAppend (a Custom Scan naming the hypertable) only forwards its chunks' rows
    if plan.get("Relation Name") in relations and plan.get("Node Type") != "Custom Scan":
        rows = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
        own = rows * plan.get("Actual Loops", 1) * relations[plan["Relation Name"]]
    return own + sum(_scanned(child, relations) for child in plan.get("Plans", []))


def explain_device_rows(conn: psycopg.Connection, queries: dict[str, str]) -> dict[str, float]:
    relations = _device_level_relations(conn)
    out = {}
    for name, query in queries.items():
        row = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, PARAMS).fetchone()  # type: ignore[arg-type]
        assert row is not None
        out[name] = _scanned(row[0][0]["Plan"], relations)
    return out


def _explain_all(conn: psycopg.Connection) -> dict[str, Any]:
    conn.execute("INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw) "
                 "SELECT s, 'srv', %s, t, 60, 10, 20, 30 FROM unnest(%s::text[]) s, "
                 "generate_series(%s::timestamptz, %s::timestamptz, INTERVAL '15 minutes') t",
                 (START, list(SITES), START, END))
    # a second, later issue: targets before it keep the first issue, later ones take this one
    conn.execute("INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw) "
                 "SELECT s, 'srv', %s, t, 30, 5, 15, 25 FROM unnest(%s::text[]) s, "
                 "generate_series(%s::timestamptz, %s::timestamptz, INTERVAL '15 minutes') t",
                 (START + timedelta(hours=12), list(SITES), START, END))
    refresh_rollups(conn, **WINDOW)  # forecast accuracy is materialised (0100): written forecasts reach it on refresh
    conn.execute("ANALYZE")  # planner statistics as autovacuum would have them on a live database
    out: dict[str, Any] = {"report": explain_device_rows(conn, {**REPORT_QUERIES, **DASHBOARD_QUERIES, **EXAMPLE_QUERIES}),
           "baseline": explain_device_rows(conn, BASELINE_QUERIES),
           "accuracy": _rows(conn, ACCURACY),
           "accuracy_0040": _rows(conn, FORECAST_ACCURACY_0040),
           "grouped": _rows(conn, GROUPED), "grouped_live": _rows(conn, GROUPED_LIVE),
           "fleet": _rows(conn, FLEET), "fleet_live": _rows(conn, FLEET_LIVE)}
    # late data on both sides of the accuracy rows: a correction of day-2 actuals and a re-issue
    # (later issued_at) for targets of day 3
    _load(conn, START + timedelta(hours=30), START + timedelta(hours=34), 0.7, 2 * 10**9)
    conn.execute("INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw) "
                 "SELECT s, 'srv', %s, t, 15, 1, 2, 3 FROM unnest(%s::text[]) s, "
                 "generate_series(%s::timestamptz, %s::timestamptz, INTERVAL '15 minutes') t",
                 (START + timedelta(hours=50), list(SITES), START + timedelta(hours=51), END))
    refresh_rollups(conn, **WINDOW)
    out["accuracy_late"] = _rows(conn, ACCURACY)
    out["accuracy_late_0040"] = _rows(conn, FORECAST_ACCURACY_0040)
    out["grouped_late"], out["grouped_late_live"] = _rows(conn, GROUPED), _rows(conn, GROUPED_LIVE)
    out["fleet_late"], out["fleet_late_live"] = _rows(conn, FLEET), _rows(conn, FLEET_LIVE)
    return out


def _monthly_groups_estimate(conn: psycopg.Connection) -> float:
    """Planner's group estimate for the issue's monthly-energy grouping (2 sites x 1 month here) on
    the relation holding site_rollup_15m's rows: the table (PostgreSQL) or the continuous
    aggregate's materialisation hypertable (TimescaleDB; its real-time union with the newest
    device rows hides column statistics from the estimate, ADR 0240)."""
    row = conn.execute("SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) "
                       "FROM timescaledb_information.continuous_aggregates WHERE view_name = 'site_rollup_15m'"
                       ).fetchone() if _relkind(conn, "timescaledb_information.continuous_aggregates") else None
    storage = str(row[0]) if row else "site_rollup_15m"
    conn.execute(f"ANALYZE {storage}")
    plan_row = conn.execute(f"EXPLAIN (FORMAT JSON) SELECT site_id, date_trunc('month', bucket), sum(energy_kwh) "
                            f"FROM {storage} GROUP BY 1, 2").fetchone()
    assert plan_row is not None
    plan = plan_row[0][0]["Plan"]
    while plan.get("Node Type") != "Aggregate" and plan.get("Plans"):
        plan = plan["Plans"][0]
    return float(plan["Plan Rows"])


def _relkind(conn: psycopg.Connection, name: str) -> str:
    row = conn.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (name,)).fetchone()
    return str(row[0]) if row else ""


ACCURACY = "SELECT * FROM bi.forecast_accuracy WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2"
# The pre-grouped accuracy sums (0141) and the same sums computed from the per-target view.
GROUPED = ("SELECT site_id, day, horizon_h, targets, in_band_targets, error_kw_sum, abs_error_kw_sum, sq_error_kw_sum "
           "FROM bi.forecast_accuracy_daily WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2, 3")
GROUPED_LIVE = ("SELECT site_id, (target_ts AT TIME ZONE 'UTC')::date, horizon_min / 60, count(actual_kw), "
                "count(*) FILTER (WHERE in_band), coalesce(sum(error_kw), 0), coalesce(sum(abs_error_kw), 0), "
                "coalesce(sum(error_kw ^ 2), 0) FROM bi.forecast_accuracy WHERE site_id = ANY(%(sites)s) "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")

# The fleet accuracy sums kept on write (0190) and the same sums over every site's grouped rows.
FLEET = ("SELECT day, horizon_h, sites, targets, in_band_targets, error_kw_sum, abs_error_kw_sum, sq_error_kw_sum "
         "FROM bi.forecast_accuracy_fleet_daily ORDER BY 1, 2")
FLEET_LIVE = ("SELECT day, horizon_h, count(*), sum(targets), sum(in_band_targets), sum(error_kw_sum), sum(abs_error_kw_sum), "
              "sum(sq_error_kw_sum) FROM forecast_accuracy_daily GROUP BY 1, 2 ORDER BY 1, 2")

# The DISTINCT ON definition of bi.forecast_accuracy (0040) that 0074 replaced.
FORECAST_ACCURACY_0040 = """
WITH f AS (SELECT DISTINCT ON (site_id, target_ts) site_id, model_version, issued_at, target_ts, horizon_min,
                  p10_kw, p50_kw, p90_kw
           FROM forecasts WHERE issued_at <= target_ts ORDER BY site_id, target_ts, issued_at DESC, model_version)
SELECT f.site_id, f.target_ts, f.issued_at, f.model_version, f.horizon_min, f.p10_kw, f.p50_kw, f.p90_kw,
       a.ac_power_kw, f.p50_kw - a.ac_power_kw, abs(f.p50_kw - a.ac_power_kw), (a.ac_power_kw BETWEEN f.p10_kw AND f.p90_kw)
FROM f JOIN bi.site_power_15m a ON a.site_id = f.site_id AND a.bucket = f.target_ts
WHERE f.site_id = ANY(%(sites)s) ORDER BY 1, 2"""


def _cleanup(conn: psycopg.Connection) -> None:
    conn.execute("DELETE FROM forecasts WHERE site_id = ANY(%s)", (list(SITES),))
    conn.execute("DELETE FROM readings WHERE site_id = ANY(%s)", (list(SITES),))
    refresh_rollups(conn, **WINDOW)
    conn.execute("DELETE FROM device_kpi_day WHERE site_id = ANY(%s)", (list(SITES),))
    conn.execute("DELETE FROM site_kpi_day WHERE site_id = ANY(%s)", (list(SITES),))
    conn.execute("DELETE FROM sites WHERE site_id = ANY(%s)", (list(SITES),))


@pytest.fixture(scope="module")
def results(fresh_db: Callable[..., str], timescale_db: str) -> Iterator[dict[str, Any]]:
    out = {}
    with open_connection(fresh_db(), autocommit=True) as conn:
        out["postgres"] = _run(conn)
    with open_connection(timescale_db, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        try:
            out["timescaledb"] = _run(conn)
        finally:
            _cleanup(conn)
    yield out


@pytest.mark.parametrize("relation", list(SNAPSHOTS))
def test_serving_relations_identical_on_both_backends(results: dict[str, Any], relation: str) -> None:
    pg, ts = results["postgres"]["final"][relation], results["timescaledb"]["final"][relation]
    assert pg, f"{relation} is empty"
    assert _same(pg, ts), f"{relation}: {len(pg)} rows on PostgreSQL vs {len(ts)} on TimescaleDB, values differ"


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
@pytest.mark.parametrize("stage", ["first", "final"])
def test_materialised_relations_equal_the_live_definitions(results: dict[str, Any], backend: str, stage: str) -> None:
    snap = results[backend][stage]
    assert len(snap["site_power_15m"]) == 2 * 3 * 96
    assert _same(snap["site_power_15m"], snap["live_site_power_15m"])
    assert len(snap["site_kpi_daily"]) >= 6
    assert _same(snap["site_kpi_daily"], snap["live_site_kpi_daily"])
    assert snap["site_kpi_monthly"] and _same(snap["site_kpi_monthly"], snap["live_site_kpi_monthly"])
    assert snap["fleet_vs_sites"] and all(math.isclose(f, s, rel_tol=1e-9) for _, f, s in snap["fleet_vs_sites"])


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_late_correction_reaches_site_rollups_and_kpi_days(results: dict[str, Any], backend: str) -> None:
    first, final = results[backend]["first"], results[backend]["final"]
    changed_days = [(a[0], a[1]) for a, b in zip(first["site_kpi_daily"], final["site_kpi_daily"], strict=True)
                    if not math.isclose(a[3], b[3], rel_tol=1e-9)]
    assert changed_days, "the late correction did not change any KPI day"
    # the correction lies within [START+2h, START+20h): only site-local days overlapping it change
    assert all(day <= (START + timedelta(days=1)).date() for _, day in changed_days)
    assert {s for s, _ in changed_days} == set(SITES)
    energy = {(r[0], r[1]): r[2] for r in final["site_power_1d"]}
    energy_first = {(r[0], r[1]): r[2] for r in first["site_power_1d"]}
    assert energy[("srv-site-utc", START)] < 0.8 * energy_first[("srv-site-utc", START)]
    day3 = ("srv-site-utc", START + timedelta(days=2))
    assert energy[day3] == pytest.approx(energy_first[day3])


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_no_report_query_scans_device_rows_beyond_one_site_day(results: dict[str, Any], backend: str) -> None:
    scanned = results[backend]["explain"]["report"]
    assert len(scanned) == len(REPORT_QUERIES) + len(DASHBOARD_QUERIES) + len(EXAMPLE_QUERIES)
    assert {q: n for q, n in scanned.items() if n > ONE_SITE_DAY_ROWS} == {}
    assert scanned["site_device_power_one_day"] > 0  # the drill-down reads its one site-day, and is counted


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_the_scan_check_catches_the_old_device_level_definitions(results: dict[str, Any], backend: str) -> None:
    baseline = results[backend]["explain"]["baseline"]
    assert all(n > ONE_SITE_DAY_ROWS for n in baseline.values()), baseline


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_forecast_accuracy_rows_unchanged_by_the_lateral_form(results: dict[str, Any], backend: str) -> None:
    new, old = results[backend]["explain"]["accuracy"], results[backend]["explain"]["accuracy_0040"]
    assert len(new) == 2 * 3 * 96 and {r[4] for r in new} == {30, 60}  # both issues are the latest for some targets
    assert _same(new, old)


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_materialised_accuracy_follows_late_actuals_and_reissued_forecasts(results: dict[str, Any], backend: str) -> None:
    explain = results[backend]["explain"]
    late, live, before = explain["accuracy_late"], explain["accuracy_late_0040"], explain["accuracy"]
    assert _same(late, live)
    assert {r[4] for r in late} == {15, 30, 60}  # the re-issue is now the latest for day-3 targets
    changed_actuals = [a for a, b in zip(late, before, strict=True)
                       if START + timedelta(hours=30) <= a[1] < START + timedelta(hours=34) and not _close(a[8], b[8])]
    assert changed_actuals  # the day-2 correction reached the materialised rows


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_grouped_accuracy_equals_the_per_target_rows_and_follows_late_data(results: dict[str, Any], backend: str) -> None:
    explain = results[backend]["explain"]
    assert explain["grouped"] and _same(explain["grouped"], explain["grouped_live"])
    assert _same(explain["grouped_late"], explain["grouped_late_live"])
    # both kinds of late data changed some grouped rows: the day-2 actuals and the day-3 re-issue (horizon 0 h)
    before = {r[:3]: r[3:] for r in explain["grouped"]}
    changed = {key for key, *rest in ((r[:3], r[3:]) for r in explain["grouped_late"])
               if key not in before or not all(_close(a, b) for a, b in zip(before[key], rest[0], strict=True))}
    assert {day for _, day, _ in changed} >= {(START + timedelta(days=1)).date(), (START + timedelta(days=2)).date()}
    assert any(h == 0 for _, _, h in changed)


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_fleet_accuracy_equals_the_sum_over_sites_and_follows_late_data(results: dict[str, Any], backend: str) -> None:
    explain = results[backend]["explain"]
    assert explain["fleet"] and _same(explain["fleet"], explain["fleet_live"])
    assert explain["fleet_late"] and _same(explain["fleet_late"], explain["fleet_late_live"])
    assert not _same(explain["fleet"], explain["fleet_late"])  # the late data reached the fleet sums
    mine = [r for r in explain["fleet"] if r[0] in {START.date(), (START + timedelta(days=1)).date()}]
    assert mine and all(r[2] >= len(SITES) for r in mine)  # every test site is summed


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
def test_monthly_site_grouping_is_estimated_from_statistics(results: dict[str, Any], backend: str) -> None:
    # 0142: GROUP BY site_id, date_trunc('month', bucket) estimated from expression statistics,
    # not as a product of per-column guesses (which chose a serial plan sized for 70 000 groups)
    assert results[backend]["monthly_groups_estimate"] <= 10
