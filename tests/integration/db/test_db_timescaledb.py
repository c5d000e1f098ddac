"""The TimescaleDB path: schema, policy catalogue and jobs, refresh and real-time aggregation.

Runs on the module's own database on native TimescaleDB (``timescale_module_db``; the shared
``timescale_db`` on the PGlite fallback). Every test restores the policies it changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.info import database_info
from heliosgrid.db.migrate import migrate
from heliosgrid.db.retention import KEEP, MIN_DROP_AFTER, Policy, PolicyError, seed_policies, set_policy, show_policies
from heliosgrid.db.rollups import RollupError, policy_job_status, refresh_rollups
from heliosgrid.settings import Settings, load_settings

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


@pytest.fixture
def tsconn(timescale_module_db: str) -> Iterator[psycopg.Connection]:
    with open_connection(timescale_module_db, autocommit=True) as conn:
        yield conn


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def _by_relation(conn: psycopg.Connection) -> dict[str, Policy]:
    return {p.relation: p for p in show_policies(conn)}


def test_reapplying_migrations_is_a_noop_and_info_reports_timescaledb(tsconn: psycopg.Connection) -> None:
    again = migrate(tsconn, requested_backend="auto")
    assert again.backend == "timescaledb"
    assert again.applied == []
    info = database_info(tsconn)
    assert info["backend"] == "timescaledb"
    assert info["hypertables"] == ["readings"]
    kinds = {r["name"]: r["kind"] for r in info["relations"]}
    for rollup in ("readings_15m", "readings_1h", "readings_1d"):
        assert kinds[rollup] == "continuous aggregate"
    caggs: dict[str, bool] = dict(tsconn.execute(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
    ).fetchall())
    # real-time on (0072: bi), except the site and fleet 15-min aggregates: materialised rows only,
    # their newest buckets refreshed by the consumer (0150, ADR 0290)
    serving = {f"{level}_{width}": width == "15m" for level in ("site_rollup", "fleet_rollup") for width in ("15m", "1h", "1d")}
    assert caggs == {"readings_15m": False, "readings_1h": False, "readings_1d": False, **serving}
    chunk = tsconn.execute(
        "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'"
    ).fetchone()
    assert chunk == (DAY,)
    assert tsconn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'"
    ).fetchone() == (True,)


def test_policies_are_registered_with_the_configured_intervals(tsconn: psycopg.Connection, settings: Settings) -> None:
    policies = _by_relation(tsconn)
    raw = policies["readings"]
    assert raw.drop_after == settings.retention_raw_days * DAY
    assert raw.job_drop_after == settings.retention_raw_days * DAY
    assert raw.job_compress_after == settings.compress_raw_after_days * DAY
    assert policies["readings_15m"].job_drop_after == settings.retention_15m_days * DAY
    for rel in ("readings_1h", "readings_1d"):
        assert policies[rel].retention_job_id is None  # kept forever by default
    assert all(p.in_sync for p in policies.values())
    jobs = {(j["proc_name"], j["relation"]): j for j in policy_job_status(tsconn)}
    assert ("policy_retention", "readings") in jobs
    assert ("policy_compression", "readings") in jobs
    # MIN_DROP_AFTER mirrors the continuous-aggregate refresh windows of migration 0004
    refresh = {rel: j["config"]["start_offset"] for (proc, rel), j in jobs.items()
               if proc == "policy_refresh_continuous_aggregate"}
    serving = {f"{level}_{width}" for level in ("site_rollup", "fleet_rollup") for width in ("15m", "1h", "1d")}  # 0072 (bi)
    assert set(refresh) == {"readings_15m", "readings_1h", "readings_1d"} | serving
    sources = {"readings_15m": "readings", "readings_1h": "readings_15m", "readings_1d": "readings_1h"}
    for cagg, source in sources.items():
        offset = tsconn.execute("SELECT %s::interval", (refresh[cagg],)).fetchone()
        assert offset == (MIN_DROP_AFTER[source],)
    assert not any(j["failed"] for j in jobs.values())


def test_changed_settings_seed_new_catalogue_rows_and_jobs(tsconn: psycopg.Connection, settings: Settings) -> None:
    tsconn.execute("DELETE FROM retention_policies WHERE relation = 'readings_15m'")
    try:
        seed_policies(tsconn, load_settings(retention_15m_days=200))
        policy = _by_relation(tsconn)["readings_15m"]
        assert policy.drop_after == 200 * DAY
        assert policy.job_drop_after == 200 * DAY
        # settings seed only missing rows: an existing row is not overwritten by new settings
        seed_policies(tsconn, load_settings(retention_15m_days=100))
        assert _by_relation(tsconn)["readings_15m"].job_drop_after == 200 * DAY
    finally:
        set_policy(tsconn, "readings_15m", drop_after=settings.retention_15m_days * DAY)


def test_dba_change_survives_migrate_and_drifted_jobs_are_repaired(
    tsconn: psycopg.Connection, settings: Settings
) -> None:
    try:
        changed = set_policy(tsconn, "readings_1h", drop_after=400 * DAY)
        assert changed.job_drop_after == 400 * DAY
        assert changed.updated_by != "heliosgrid db migrate (settings)"
        # someone removes the job behind HeliosGrid's back
        tsconn.execute("SELECT remove_retention_policy('readings_1h')")
        assert not _by_relation(tsconn)["readings_1h"].in_sync
        migrate(tsconn)
        seed_policies(tsconn, settings)
        policy = _by_relation(tsconn)["readings_1h"]
        assert policy.drop_after == 400 * DAY
        assert policy.job_drop_after == 400 * DAY
    finally:
        set_policy(tsconn, "readings_1h", drop_after=None)
    assert _by_relation(tsconn)["readings_1h"].retention_job_id is None


def test_compression_policy_change_and_refusal_leave_jobs_consistent(
    tsconn: psycopg.Connection, settings: Settings
) -> None:
    try:
        policy = set_policy(tsconn, "readings", compress_after=14 * DAY)
        assert policy.job_compress_after == 14 * DAY
        assert policy.drop_after == settings.retention_raw_days * DAY
        with pytest.raises(PolicyError, match="must be shorter than drop-after"):
            set_policy(tsconn, "readings", drop_after=10 * DAY, compress_after=KEEP)
        after = _by_relation(tsconn)["readings"]
        assert after.job_drop_after == settings.retention_raw_days * DAY
        assert after.job_compress_after == 14 * DAY
        policy = set_policy(tsconn, "readings", compress_after=None)
        assert policy.compression_job_id is None
    finally:
        set_policy(tsconn, "readings", compress_after=settings.compress_raw_after_days * DAY)
    assert _by_relation(tsconn)["readings"].job_compress_after == settings.compress_raw_after_days * DAY


def test_refresh_refuses_an_open_transaction(timescale_module_db: str) -> None:
    with open_connection(timescale_module_db) as conn:
        conn.execute("SELECT 1")  # opens a transaction
        with pytest.raises(RollupError, match="outside a transaction"):
            refresh_rollups(conn)
        conn.rollback()
        result = refresh_rollups(conn)  # idle again: switched to autocommit for the call
        assert not conn.autocommit
    assert result.backend == "timescaledb"
    assert list(result.windows) == ["readings_15m", "readings_1h", "readings_1d"]
    lo, hi = result.windows["readings_1d"]
    assert hi - lo >= timedelta(days=35)


def test_retention_cli_show_and_set_in_process(
    timescale_module_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    settings: Settings
) -> None:
    from heliosgrid.cli import main
    from heliosgrid.settings import get_settings

    monkeypatch.setenv("HELIOS_DATABASE_URL", timescale_module_db)
    get_settings.cache_clear()
    try:
        assert main(["retention", "show", "--json"]) == 0
        shown = {p["relation"]: p for p in json.loads(capsys.readouterr().out)}
        assert shown["readings"]["compress_after"] == f"{settings.compress_raw_after_days}d"
        assert shown["readings"]["retention_job_id"] is not None
        assert main(["retention", "set", "readings_1d", "--drop-after", "520w", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["drop_after"] == "3640d"
        assert main(["retention", "set", "readings_15m", "--drop-after", "2d"]) == 2
        assert "drop-after 2d is too short" in capsys.readouterr().err
        assert main(["db", "jobs"]) == 0
        assert "policy_retention" in capsys.readouterr().out
    finally:
        assert main(["retention", "set", "readings_1d", "--drop-after", "none"]) == 0
        get_settings.cache_clear()


def test_real_time_aggregation_shows_rows_not_yet_refreshed(tsconn: psycopg.Connection) -> None:
    """Rows newer than the materialisation watermark appear in all three rollups at once."""
    device = "rt-inv-1"
    try:
        tsconn.execute(
            "INSERT INTO readings (device_id, ts, site_id, ac_power_kw, inverter_status, seq) "
            "SELECT %s, g, 'rt-site', 8.0, 'ok', 1 FROM generate_series("
            "'2030-01-01 00:00+00'::timestamptz, '2030-01-01 01:59+00'::timestamptz, INTERVAL '1 minute') g",
            (device,),
        )
        for relation, buckets in (("readings_15m", 8), ("readings_1h", 2), ("readings_1d", 1)):
            row = tsconn.execute(
                f"SELECT count(*), sum(sample_count)::bigint, sum(energy_kwh), sum(status_ok_count)::bigint "
                f"FROM {relation} WHERE device_id = %s",
                (device,),
            ).fetchone()
            assert row == (buckets, 120, pytest.approx(16.0), 120), relation  # 8 kW x 2 h
    finally:
        tsconn.execute("DELETE FROM readings WHERE device_id = %s", (device,))
