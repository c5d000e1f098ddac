"""The latest forecast per (site, target) and the fleet forecast band, kept on write (migration 0170,
ADR 0400): after every kind of write — new issues, a later issue over part of the targets, a tie
on the issue time, an upsert, deleted issues, a deleted site, two writers at once — they equal the
live definitions (DISTINCT ON over every stored issue, and its sum over sites), on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from serving_rows import same_rows as _same
from serving_rows import write_concurrently

from heliosgrid.db.connection import open_connection

pytestmark = pytest.mark.integration

T0 = datetime(2023, 7, 14, tzinfo=UTC)
SITES = ["fcl-site-a", "fcl-site-b", "fcl-site-c"]
RANGE = {"lo": T0 - timedelta(days=1), "hi": T0 + timedelta(days=4), "sites": SITES}

# point_kw (migration 0230): model "v0" writes none, as rows stored before migration 0220.
INSERT = ("INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw, "
          "point_kw) "
          "SELECT %(site)s, %(model)s, %(issued)s, %(issued)s::timestamptz + h * INTERVAL '15 minutes', h * 15, "
          "0.5 * %(kw)s * (1 + h %% 5), %(kw)s * (1 + h %% 5), 1.5 * %(kw)s * (1 + h %% 5), "
          "CASE WHEN %(model)s = 'v0' THEN NULL ELSE 0.9 * %(kw)s * (1 + h %% 5) END "
          "FROM generate_series(0, %(steps)s - 1) h "
          "ON CONFLICT (site_id, model_version, issued_at, target_ts) DO UPDATE SET "
          "p10_kw = EXCLUDED.p10_kw, p50_kw = EXCLUDED.p50_kw, p90_kw = EXCLUDED.p90_kw, point_kw = EXCLUDED.point_kw")
LATEST = ("SELECT site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw, point_kw "
          "FROM bi.forecast_latest WHERE site_id = ANY(%(sites)s) ORDER BY site_id, target_ts")
LATEST_LIVE = ("SELECT DISTINCT ON (site_id, target_ts) site_id, model_version, issued_at, target_ts, horizon_min, "
               "p10_kw, p50_kw, p90_kw, point_kw FROM forecasts WHERE site_id = ANY(%(sites)s) "
               "ORDER BY site_id, target_ts, issued_at DESC, model_version")
FLEET = ("SELECT target_ts, p10_kw, p50_kw, p90_kw, sites_forecast, point_kw FROM bi.fleet_forecast_15m "
         "WHERE target_ts >= %(lo)s AND target_ts < %(hi)s ORDER BY target_ts")
FLEET_LIVE = ("SELECT target_ts, sum(p10_kw), sum(p50_kw), sum(p90_kw), count(*), sum(coalesce(point_kw, p50_kw)) "
              "FROM (SELECT DISTINCT ON (site_id, target_ts) * "
              "FROM forecasts WHERE target_ts >= %(lo)s AND target_ts < %(hi)s "
              "ORDER BY site_id, target_ts, issued_at DESC, model_version) x GROUP BY target_ts ORDER BY target_ts")


def _write(conn: psycopg.Connection, site: str, issued: datetime, kw: float, model: str = "v1", steps: int = 192) -> None:
    conn.execute(INSERT, {"site": site, "model": model, "issued": issued, "kw": kw, "steps": steps})


def _state(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: conn.execute(q, RANGE).fetchall() for name, q in  # type: ignore[arg-type]
            (("latest", LATEST), ("latest_live", LATEST_LIVE), ("fleet", FLEET), ("fleet_live", FLEET_LIVE))}


def _concurrent_writes(url: str) -> None:
    """Two sessions write the same targets for different sites; the second blocks on the first."""
    issued = T0 + timedelta(days=1, hours=6)
    write_concurrently(url, lambda conn: _write(conn, SITES[0], issued, 7.0), lambda conn: _write(conn, SITES[1], issued, 11.0))


def _stages(url: str) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    out: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    with open_connection(url, autocommit=True) as conn:
        for site in SITES:
            conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, timezone) "
                         "VALUES (%s, %s, 40, -3, 'UTC')", (site, site))
            _write(conn, site, T0, 2.0)
        out["one_issue"] = _state(conn)
        _write(conn, SITES[0], T0 + timedelta(hours=12), 3.0)  # later issue over the second half and beyond
        _write(conn, SITES[1], T0 + timedelta(hours=12), 4.0, model="v0")  # ...
        _write(conn, SITES[1], T0 + timedelta(hours=12), 5.0, model="v2")  # same issue time: model v0 wins the tie
        out["later_issue"] = _state(conn)
        _write(conn, SITES[0], T0 + timedelta(hours=12), 6.0)  # the same rows again, new values (upsert)
        out["upsert"] = _state(conn)
        conn.execute("DELETE FROM forecasts WHERE site_id = %s AND issued_at = %s", (SITES[0], T0 + timedelta(hours=12)))
        out["deleted_issue"] = _state(conn)
        conn.execute("DELETE FROM sites WHERE site_id = %s", (SITES[2],))  # cascades to its forecasts
        out["deleted_site"] = _state(conn)
        _concurrent_writes(url)
        out["concurrent"] = _state(conn)
        conn.execute("DELETE FROM sites WHERE site_id = ANY(%s)", (SITES,))
        out["cleaned"] = _state(conn)
    return out


@pytest.fixture(scope="module")
def stages(fresh_db: Callable[..., str], timescale_db: str) -> dict[str, Any]:
    return {"postgres": _stages(fresh_db()), "timescaledb": _stages(timescale_db)}


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
@pytest.mark.parametrize("stage", ["one_issue", "later_issue", "upsert", "deleted_issue", "deleted_site", "concurrent"])
def test_materialised_latest_and_fleet_band_equal_the_live_definitions(stages: dict[str, Any], backend: str, stage: str) -> None:
    s = stages[backend][stage]
    assert s["latest"] and s["fleet"]
    assert _same(s["latest"], s["latest_live"])
    assert _same(s["fleet"], s["fleet_live"])


def test_the_stages_change_what_they_should(stages: dict[str, Any]) -> None:
    s = stages["postgres"]
    assert len(s["one_issue"]["latest"]) == 3 * 192
    later = {(r[0], r[3]): r for r in s["later_issue"]["latest"]}
    assert later[(SITES[1], T0 + timedelta(hours=13))][1] == "v0"  # tie on issued_at: model_version order
    assert later[(SITES[0], T0 + timedelta(hours=13))][6] != later[(SITES[0], T0 + timedelta(hours=1))][6]
    assert later[(SITES[1], T0 + timedelta(hours=13))][8] is None  # v0 stored no point forecast
    assert later[(SITES[0], T0 + timedelta(hours=13))][8] == pytest.approx(0.9 * later[(SITES[0], T0 + timedelta(hours=13))][6])
    assert len(s["deleted_site"]["latest"]) < len(s["deleted_issue"]["latest"])
    assert s["one_issue"]["fleet"][0][4] == 3
    assert max(r[4] for r in s["concurrent"]["fleet"]) == 2  # site c was deleted
    assert s["cleaned"]["latest"] == [] and s["cleaned"]["fleet"] == []


def test_migration_0230_carries_stored_point_forecasts_into_the_latest_and_fleet_rows(
        fresh_db: Callable[..., str], tmp_path: Any) -> None:
    """Forecasts written between migrations 0220 and 0230 (with and without a point forecast) appear in
    bi.forecast_latest and bi.fleet_forecast_15m after 0230 as if the trigger had always kept point_kw."""
    import shutil

    from heliosgrid.db.migrate import DEFAULT_MIGRATIONS_DIR, migrate

    upto = tmp_path / "upto0220"
    upto.mkdir()
    for f in DEFAULT_MIGRATIONS_DIR.iterdir():
        if f.name[:4].isdigit() and int(f.name[:4]) <= 220:
            shutil.copy(f, upto / f.name)
    url = fresh_db(migrated=False)
    with open_connection(url, autocommit=True) as conn:
        migrate(conn, upto, requested_backend="postgres")
        for site in SITES[:2]:
            conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, timezone) "
                         "VALUES (%s, %s, 40, -3, 'UTC')", (site, site))
        _write(conn, SITES[0], T0, 2.0)  # point_kw = 0.9 × P50
        _write(conn, SITES[1], T0, 3.0, model="v0")  # no point forecast (as before 0220)
        applied = migrate(conn, requested_backend="postgres").applied
        assert applied[:2] == [230, 240] and all(v > 220 for v in applied)  # and any migration added since
        state = _state(conn)
    assert _same(state["latest"], state["latest_live"]) and _same(state["fleet"], state["fleet_live"])
    first = state["fleet"][0]
    assert first[5] == pytest.approx(0.9 * 2.0 + 3.0)  # Σ coalesce(point_kw, p50_kw) at h = 0
