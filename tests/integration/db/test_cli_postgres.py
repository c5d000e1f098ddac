"""`heliosgrid retention …` and `heliosgrid db refresh|jobs` on the plain-PostgreSQL backend (in process)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from heliosgrid.cli import main
from heliosgrid.db.connection import open_connection
from heliosgrid.db.retention import seed_policies
from heliosgrid.db.rollups import ensure_partitions
from heliosgrid.settings import get_settings, load_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seeded_pg(fresh_db: Callable[..., str]) -> str:
    url = fresh_db()
    with open_connection(url, autocommit=True) as conn:
        seed_policies(conn, load_settings())
    return url


@pytest.fixture
def cli_env(seeded_pg: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HELIOS_DATABASE_URL", seeded_pg)
    get_settings.cache_clear()
    yield seeded_pg
    get_settings.cache_clear()


def test_show_lists_the_seeded_policies(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retention", "show", "--json"]) == 0
    shown = {p["relation"]: p for p in json.loads(capsys.readouterr().out)}
    assert list(shown) == ["readings", "readings_15m", "readings_1h", "readings_1d"]
    assert shown["readings"]["drop_after"] == "30d"
    assert shown["readings"]["compress_after"] == "none"
    assert shown["readings_1h"]["drop_after"] == "none"
    assert all(p["backend"] == "postgres" and p["in_sync"] for p in shown.values())
    assert main(["retention", "show"]) == 0
    table = capsys.readouterr().out
    assert "helios_apply_retention()" in table and "readings_15m" in table


def test_set_changes_the_catalogue(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retention", "set", "readings", "--drop-after", "13w"]) == 0
    assert capsys.readouterr().out.strip() == "readings: drop after 91d, compress after none (postgres)"
    with open_connection(cli_env, autocommit=True) as conn:
        row = conn.execute("SELECT drop_after, updated_by FROM retention_policies WHERE relation = 'readings'").fetchone()
    assert row == (timedelta(days=91), "postgres")
    assert main(["retention", "set", "readings", "--drop-after", "30d"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retention", "set", "readings", "--compress-after", "7d"], "error: compression needs TimescaleDB"),
        (["retention", "set", "readings_15m", "--drop-after", "1w"], "error: readings_15m: drop-after 7d is too short"),
    ],
)
def test_refused_changes_exit_2_with_one_line(
    cli_env: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retention", "set", "readings", "--drop-after", "90 days"], "invalid duration '90 days'"),
        (["retention", "set", "readings", "--drop-after", "0d"], "must be greater than zero"),
        (["retention", "set", "sites", "--drop-after", "90d"], "invalid choice: 'sites'"),
        (["retention", "set", "readings"], "give --drop-after and/or --compress-after"),
        (["retention", "apply", "--as-of", "yesterday"], "invalid timestamp 'yesterday'"),
        (["db", "refresh", "--start", "2026-13-01"], "invalid timestamp '2026-13-01'"),
    ],
)
def test_invalid_arguments_exit_2_with_usage(
    cli_env: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_refresh_and_apply_through_the_cli(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    start = datetime(2003, 1, 1, tzinfo=UTC)
    with open_connection(cli_env, autocommit=True) as conn:
        ensure_partitions(conn, "readings", start, start + timedelta(days=3))
        conn.execute(
            "INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq) "
            "SELECT 'cli-inv', ts, 'cli-site', 10.0, 1 "
            "FROM generate_series(%s::timestamptz, %s::timestamptz, INTERVAL '1 minute') ts",
            (start, start + timedelta(days=3) - timedelta(minutes=1)),
        )
    assert main(["db", "refresh", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "postgres"
    assert result["buckets_recomputed"] == 3 * 96
    assert main(["db", "refresh"]) == 0
    assert capsys.readouterr().out.startswith("refreshed 0 (device, 15-min) bucket(s)")
    as_of = (start + timedelta(days=31, hours=12)).isoformat()  # cutoff 2003-01-02 12:00: only day 1 is entirely older
    assert main(["retention", "apply", "--as-of", as_of, "--json"]) == 0
    dropped = json.loads(capsys.readouterr().out)
    assert dropped == [{"relation": "readings", "dropped": "readings_p20030101"}]
    with open_connection(cli_env, autocommit=True) as conn:
        raw = conn.execute("SELECT count(*) FROM readings WHERE device_id = 'cli-inv'").fetchone()
        daily = conn.execute("SELECT bucket, energy_kwh FROM readings_1d WHERE device_id = 'cli-inv' ORDER BY 1").fetchall()
    assert raw == (2 * 1440,)
    assert [(b.date().isoformat(), round(e, 9)) for b, e in daily] == [
        ("2003-01-01", 240.0), ("2003-01-02", 240.0), ("2003-01-03", 240.0)  # 10 kW x 24 h, kept after raw drop
    ]
    assert main(["db", "jobs"]) == 0
    assert "no TimescaleDB policy jobs" in capsys.readouterr().out


def test_migrate_refuses_settings_that_would_break_rollups(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A raw retention inside the 15-min refresh window is refused by `db migrate` with the reason."""
    with open_connection(cli_env, autocommit=True) as conn:
        conn.execute("DELETE FROM retention_policies WHERE relation = 'readings'")
    monkeypatch.setenv("HELIOS_RETENTION_RAW_DAYS", "5")
    monkeypatch.setenv("HELIOS_COMPRESS_RAW_AFTER_DAYS", "2")
    get_settings.cache_clear()
    try:
        assert main(["db", "migrate"]) == 2
        assert capsys.readouterr().err.startswith("error: readings: drop-after 5d is too short")
    finally:
        monkeypatch.delenv("HELIOS_RETENTION_RAW_DAYS")
        monkeypatch.delenv("HELIOS_COMPRESS_RAW_AFTER_DAYS")
        get_settings.cache_clear()
        assert main(["db", "migrate"]) == 0  # defaults re-seed the deleted row
    with open_connection(cli_env, autocommit=True) as conn:
        row = conn.execute("SELECT drop_after FROM retention_policies WHERE relation = 'readings'").fetchone()
    assert row == (timedelta(days=30),)
