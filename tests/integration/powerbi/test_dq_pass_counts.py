"""Data-quality pass counts per hour, kept on write (migration 0180, ADR 0410): after every kind of
write — inserts, the quality runner's upsert of re-checked windows, deletes, two writers at once —
the counters equal a GROUP BY over ``dq_results``, on both backends; and the API's pass rates
(whole hours from the counters, partial hours from the results) equal the raw definition for any
``as_of`` and window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from serving_rows import same_rows, write_concurrently

from heliosgrid.api.routers.insights import CHECK_PASS_RATES_SQL, SITE_PASS_RATES_SQL
from heliosgrid.db.connection import open_connection
from heliosgrid.quality.checks import CheckResult
from heliosgrid.quality.runner import store_results

pytestmark = pytest.mark.integration

T0 = datetime(2021, 3, 7, tzinfo=UTC)
SITES = ["dqh-site-a", "dqh-site-b", "dqh-site-c"]
CHECKS = ["dqh_range", "dqh_stuck", "dqh_completeness"]
SCOPE = {"sites": SITES, "checks": CHECKS}

# Every 5 minutes for 6 h, plus points exactly on the hour and on half-seconds: the edges the
# window arithmetic must get right. Verdicts vary by site, check and time.
INSERT = ("INSERT INTO dq_results (check_name, site_id, device_id, window_start, window_end, passed, checked_at) "
          "SELECT c, s, d, t - INTERVAL '15 minutes', t, (hashtext(c || s || d || t::text) %% 7) <> 0, t "
          "FROM unnest(%(checks)s::text[]) c, unnest(%(sites)s::text[]) s, unnest(ARRAY['', 'inv-1']) d, "
          "(SELECT generate_series(%(t0)s::timestamptz, %(t0)s::timestamptz + INTERVAL '6 hours', INTERVAL '5 minutes') t "
          " UNION SELECT %(t0)s::timestamptz + k * INTERVAL '1 hour' + INTERVAL '0.5 second' FROM generate_series(0, 6) k) ts")
COUNTERS = {
    "check": ("SELECT check_name, hour, runs, passed_runs FROM bi.dq_check_hourly WHERE check_name = ANY(%(checks)s) "
              "ORDER BY 1, 2"),
    "check_live": ("SELECT check_name, date_trunc('hour', checked_at, 'UTC'), count(*), count(*) FILTER (WHERE passed) "
                   "FROM dq_results WHERE check_name = ANY(%(checks)s) GROUP BY 1, 2 ORDER BY 1, 2"),
    "site": "SELECT site_id, hour, runs, passed_runs FROM bi.dq_site_hourly WHERE site_id = ANY(%(sites)s) ORDER BY 1, 2",
    "site_live": ("SELECT site_id, date_trunc('hour', checked_at, 'UTC'), count(*), count(*) FILTER (WHERE passed) "
                  "FROM dq_results WHERE site_id = ANY(%(sites)s) GROUP BY 1, 2 ORDER BY 1, 2"),
}


def _counters(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: conn.execute(q, SCOPE).fetchall() for name, q in COUNTERS.items()}  # type: ignore[arg-type]


def _recheck(site: str, passed: bool) -> list[CheckResult]:
    """The quality runner re-checking the first hour's windows of ``site`` (an upsert: new verdicts,
    checked_at = now, so the rows move to the current hour)."""
    return [CheckResult(check, site, "", t - timedelta(minutes=15), t, passed, 1.0, 2.0, {"rerun": True})
            for check in CHECKS for t in (T0 + timedelta(minutes=5 * k) for k in range(12))]


def _concurrent(url: str) -> None:
    """Two sessions upsert results in the same hours; the second blocks on the first's counter rows."""
    write_concurrently(url, lambda conn: store_results(conn, _recheck(SITES[0], True), "run-1"),
                       lambda conn: store_results(conn, _recheck(SITES[1], False), "run-2"))


def _delete(conn: psycopg.Connection) -> None:
    conn.execute("DELETE FROM dq_results WHERE site_id = ANY(%(sites)s) OR check_name = ANY(%(checks)s)", SCOPE)


def _stages(url: str) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    out: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    with open_connection(url, autocommit=True) as conn:
        _delete(conn)
        conn.execute(INSERT, {**SCOPE, "t0": T0})
        out["inserted"] = _counters(conn)
        store_results(conn, _recheck(SITES[2], False), "run-0")
        out["upserted"] = _counters(conn)
        conn.execute("DELETE FROM dq_results WHERE site_id = %s AND checked_at < %s", (SITES[1], T0 + timedelta(hours=2)))
        out["deleted"] = _counters(conn)
        _concurrent(url)
        out["concurrent"] = _counters(conn)
        _delete(conn)
        out["cleaned"] = _counters(conn)
    return out


@pytest.fixture(scope="module")
def stages(fresh_db: Callable[..., str], timescale_db: str) -> dict[str, Any]:
    return {"postgres": _stages(fresh_db()), "timescaledb": _stages(timescale_db)}


@pytest.mark.parametrize("backend", ["postgres", "timescaledb"])
@pytest.mark.parametrize("stage", ["inserted", "upserted", "deleted", "concurrent"])
def test_counters_equal_the_results_grouped_by_hour(stages: dict[str, Any], backend: str, stage: str) -> None:
    s = stages[backend][stage]
    assert s["check"] and s["site"]
    assert s["check"] == s["check_live"]
    assert s["site"] == s["site_live"]


def test_the_stages_change_what_they_should(stages: dict[str, Any]) -> None:
    s = stages["postgres"]
    runs = {name: sum(r[2] for r in s[name]["site"]) for name in ("inserted", "upserted", "deleted")}
    assert runs["inserted"] == 3 * 3 * 2 * (73 + 7)  # checks × sites × scopes × points
    assert runs["upserted"] == runs["inserted"]  # re-checked rows moved hour, none added
    assert runs["deleted"] < runs["upserted"]
    now_hour = {r[1] for r in s["upserted"]["site"]} - {r[1] for r in s["inserted"]["site"]}
    assert len(now_hour) == 1  # the re-checked rows counted in the hour they were checked
    assert s["cleaned"]["check"] == [] and s["cleaned"]["site"] == []


def test_truncate_empties_the_counters(fresh_db: Callable[..., str]) -> None:
    with open_connection(fresh_db(), autocommit=True) as conn:
        conn.execute(INSERT, {**SCOPE, "t0": T0})
        assert _counters(conn)["check"]
        conn.execute("TRUNCATE dq_results")
        assert conn.execute("SELECT (SELECT count(*) FROM dq_check_hourly) + (SELECT count(*) FROM dq_site_hourly)"
                            ).fetchone() == (0,)


# --- the API's pass rates against the raw definition ---------------------------------------------
# The last N whole UTC hours: checked_at in [hour(as_of) - (N - 1) h, hour(as_of) + 1 h).
RAW_RATES = ("SELECT {g}, count(*), avg(passed::integer)::double precision FROM bi.dq_result "
             "WHERE checked_at >= date_trunc('hour', %(as_of)s::timestamptz, 'UTC') "
             "- make_interval(hours => %(hours)s::integer - 1) "
             "AND checked_at < date_trunc('hour', %(as_of)s::timestamptz, 'UTC') + INTERVAL '1 hour' GROUP BY {g} ORDER BY {g}")


@pytest.fixture(scope="module", params=["postgres", "timescaledb"])
def rates_conn(request: pytest.FixtureRequest, fresh_db: Callable[..., str], timescale_db: str) -> Iterator[psycopg.Connection]:
    url = fresh_db() if request.param == "postgres" else timescale_db
    with open_connection(url, autocommit=True) as conn:
        _delete(conn)
        conn.execute(INSERT, {**SCOPE, "t0": T0})
        yield conn
        _delete(conn)


def _mine(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in rows if r[0] in SITES or r[0] in CHECKS]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.integers(min_value=-6, max_value=84).map(lambda k: 5 * k), seconds=st.sampled_from([0.0, 0.5, 17.25]),
       hours=st.integers(min_value=1, max_value=8))
@example(minutes=360, seconds=0.0, hours=3)  # as_of on the hour: that hour's results so far count
@example(minutes=359, seconds=59.5, hours=1)  # the last instant before the hour
@example(minutes=-30, seconds=0.0, hours=1)  # before any result
def test_pass_rates_equal_the_raw_results_for_any_window(rates_conn: psycopg.Connection, minutes: int, seconds: float,
                                                          hours: int) -> None:
    params = {"as_of": T0 + timedelta(minutes=minutes, seconds=seconds), "hours": hours}
    for sql, group in ((CHECK_PASS_RATES_SQL, "check_name"), (SITE_PASS_RATES_SQL, "site_id")):
        fast = _mine(rates_conn.execute(sql, params).fetchall())  # type: ignore[arg-type]
        raw = _mine(rates_conn.execute(RAW_RATES.format(g=group), params).fetchall())  # type: ignore[arg-type]
        assert same_rows(fast, raw), (group, params)


def test_pass_rates_windows_count_the_hours_they_say(rates_conn: psycopg.Connection) -> None:
    """Six whole hours ending with the hour of T0 + 6 h hold the results checked in [T0 + 1 h, T0 + 7 h)."""
    rows = _mine(rates_conn.execute(CHECK_PASS_RATES_SQL, {"as_of": T0 + timedelta(hours=6, minutes=20), "hours": 6}
                                    ).fetchall())
    per_check = 3 * 2 * (12 * 5 + 1 + 6)  # sites × scopes × (5-min points T0+1h..T0+6h, half-second points k = 1..6)
    assert [r[1] for r in rows] == [per_check] * len(CHECKS)
    assert all(0.5 < r[2] < 1.0 for r in rows)
