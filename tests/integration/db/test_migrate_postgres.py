"""Migrations on the local PostgreSQL (plain-PostgreSQL backend), each test in a fresh database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.info import database_info
from heliosgrid.db.migrate import DEFAULT_MIGRATIONS_DIR, MigrationError, discover, migrate

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A private copy of db/migrations that a test may edit."""
    target = tmp_path / "migrations"
    shutil.copytree(DEFAULT_MIGRATIONS_DIR, target)
    return target


def test_apply_then_reapply_is_a_noop(fresh_db: Callable[..., str]) -> None:
    url = fresh_db(migrated=False)
    expected = [m.version for m in discover(DEFAULT_MIGRATIONS_DIR, "postgres")]
    with open_connection(url, autocommit=True) as conn:
        first = migrate(conn, requested_backend="auto")
        assert first.backend == "postgres"  # local PostgreSQL has no timescaledb extension
        assert first.applied == expected
        recorded = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
        second = migrate(conn)
        assert second.applied == []
        assert second.already_applied == len(expected)
        assert conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall() == recorded
        info = database_info(conn)
    assert info["backend"] == "postgres"
    assert info["migrations_applied"] == len(expected)
    names = {r["name"]: r["kind"] for r in info["relations"]}
    assert names["readings"] == "partitioned table"
    for rollup in ("readings_15m", "readings_1h", "readings_1d"):
        assert names[rollup] == "partitioned table"
    for table in ("sites", "devices", "quarantine", "heartbeats", "dq_results", "models", "forecasts",
                  "alerts", "fault_events", "data_products", "api_keys", "retention_policies"):
        assert table in names
    assert info["rollups"] == ["readings_15m", "readings_1h", "readings_1d"]
    assert info["hypertables"] == []


def test_edited_applied_migration_is_refused(fresh_db: Callable[..., str], migrations_copy: Path) -> None:
    url = fresh_db(migrated=False)
    with open_connection(url, autocommit=True) as conn:
        migrate(conn, migrations_copy)
        target = migrations_copy / "0002_reference.sql"
        target.write_text(target.read_text() + "\n-- harmless looking edit\n")
        with pytest.raises(MigrationError) as info:
            migrate(conn, migrations_copy)
        message = str(info.value)
        assert "0002_reference.sql was edited after it was applied" in message
        assert "add a new numbered migration instead" in message
        # nothing was applied or recorded by the refused run
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE version = 2").fetchone() == (1,)


def test_new_migration_is_applied_after_the_existing_ones(fresh_db: Callable[..., str], migrations_copy: Path) -> None:
    url = fresh_db(migrated=False)
    with open_connection(url, autocommit=True) as conn:
        migrate(conn, migrations_copy)
        (migrations_copy / "0999_extra.sql").write_text("CREATE TABLE extra_thing (id int PRIMARY KEY);\n")
        result = migrate(conn, migrations_copy)
        assert result.applied == [999]
        assert conn.execute("SELECT to_regclass('extra_thing') IS NOT NULL").fetchone() == (True,)


def test_migration_missing_from_checkout_is_refused(fresh_db: Callable[..., str], migrations_copy: Path) -> None:
    url = fresh_db(migrated=False)
    with open_connection(url, autocommit=True) as conn:
        (migrations_copy / "0999_extra.sql").write_text("SELECT 1;\n")
        migrate(conn, migrations_copy)
        (migrations_copy / "0999_extra.sql").unlink()
        with pytest.raises(MigrationError, match=r"database has migration 0999 \(extra\) that is not in"):
            migrate(conn, migrations_copy)


def test_failing_migration_rolls_back_and_names_the_file(fresh_db: Callable[..., str], migrations_copy: Path) -> None:
    url = fresh_db(migrated=False)
    with open_connection(url, autocommit=True) as conn:
        migrate(conn, migrations_copy)
        (migrations_copy / "0999_broken.sql").write_text(
            "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n"
        )
        with pytest.raises(MigrationError, match=r"migration 0999_broken\.sql failed: .*no_such_table"):
            migrate(conn, migrations_copy)
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE version = 999").fetchone() == (0,)


def test_backend_cannot_be_switched(fresh_db: Callable[..., str]) -> None:
    url = fresh_db(migrated=True)
    with open_connection(url, autocommit=True) as conn, pytest.raises(MigrationError, match="cannot change it"):
        migrate(conn, requested_backend="timescaledb")


def test_timescaledb_requested_but_unavailable(fresh_db: Callable[..., str]) -> None:
    url = fresh_db(migrated=False)
    with open_connection(url, autocommit=True) as conn, pytest.raises(
        MigrationError, match="timescaledb extension is not installed on this server"
    ):
        migrate(conn, requested_backend="timescaledb")


def _cli(url: str, *args: str, migrations_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
    env["HELIOS_DATABASE_URL"] = url
    if migrations_dir is not None:
        env["HELIOS_MIGRATIONS_DIR"] = str(migrations_dir)
    return subprocess.run(
        [str(Path(sys.executable).parent / "heliosgrid"), *args], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_cli_migrate_twice_info_json_and_tamper(
    fresh_db: Callable[..., str], migrations_copy: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from heliosgrid.cli import main
    from heliosgrid.settings import get_settings

    url = fresh_db(migrated=False)
    monkeypatch.setenv("HELIOS_DATABASE_URL", url)
    monkeypatch.setenv("HELIOS_MIGRATIONS_DIR", str(migrations_copy))
    get_settings.cache_clear()
    try:
        assert main(["db", "migrate"]) == 0
        assert "on backend postgres" in capsys.readouterr().out
        assert main(["db", "migrate"]) == 0
        assert capsys.readouterr().out.startswith("up to date:")
        assert main(["db", "info", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
    finally:
        get_settings.cache_clear()
    assert data["backend"] == "postgres"
    assert data["migrations_applied"] == len(discover(migrations_copy, "postgres"))
    assert {"readings", "readings_15m", "readings_1h", "readings_1d"} <= {r["name"] for r in data["relations"]}
    # end to end in a real process: the refusal is one line on stderr, exit status 2
    target = migrations_copy / "0006_operations.sql"
    target.write_text(target.read_text().replace("Operational", "Operational!"))
    tampered = _cli(url, "db", "migrate", migrations_dir=migrations_copy)
    assert tampered.returncode == 2
    assert tampered.stderr.startswith("error: migration 0006_operations.sql was edited after it was applied")
    assert "Traceback" not in tampered.stderr


def test_cli_unreachable_database_is_one_clear_line() -> None:
    result = _cli("postgresql://helios:TopSecretPw@127.0.0.1:1/nothing", "db", "info")
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot connect to postgresql://helios:***@127.0.0.1:1/nothing")
    assert "TopSecretPw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_concurrent_migrators_are_serialised(fresh_db: Callable[..., str]) -> None:
    """Two services running `db migrate` at once: one applies everything, the other nothing."""
    from concurrent.futures import ThreadPoolExecutor

    url = fresh_db(migrated=False)

    def run() -> list[int]:
        with open_connection(url, autocommit=True) as conn:
            return migrate(conn, requested_backend="postgres").applied

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted((f.result() for f in [pool.submit(run), pool.submit(run)]), key=len)
    expected = [m.version for m in discover(DEFAULT_MIGRATIONS_DIR, "postgres")]
    assert results == [[], expected]
