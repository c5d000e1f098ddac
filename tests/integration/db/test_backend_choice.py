"""``HELIOS_DB_BACKEND`` against real servers, and ``heliosgrid db info`` on each.

* a throwaway cluster from the ``pg-timescaledb`` prefix WITHOUT ``shared_preload_libraries``:
  the extension is installed but cannot be created — ``auto`` falls back to plain PostgreSQL
  with one warning naming the fix, ``timescaledb`` fails with that fix (never PostgreSQL's raw
  ``CREATE EXTENSION`` error);
* the native (preloaded) TimescaleDB: ``db info`` shows the version and a running scheduler.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import MigrationError, migrate, recorded_backend
from heliosgrid.db.timescale_server import start_unpreloaded_cluster
from heliosgrid.settings import get_settings
from tests.helpers import db_url, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def unpreloaded_server(timescale_server: object) -> Iterator[str]:
    if not getattr(timescale_server, "native", False):
        pytest.skip("needs the native TimescaleDB prefix (../shared/timescaledb)")
    cluster = start_unpreloaded_cluster(free_port())
    try:
        yield cluster.url
    finally:
        cluster.stop()


def _new_db(server_url: str) -> str:
    name = f"helios_choice_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return db_url(server_url, name)


def _cli(argv: list[str], url: str, backend: str, monkeypatch: pytest.MonkeyPatch) -> int:
    from heliosgrid.cli import main

    monkeypatch.setenv("HELIOS_DATABASE_URL", url)
    monkeypatch.setenv("HELIOS_DB_BACKEND", backend)
    get_settings.cache_clear()
    try:
        return main(argv)
    finally:
        get_settings.cache_clear()


def test_the_cluster_really_has_the_extension_unpreloaded(unpreloaded_server: str) -> None:
    url = _new_db(unpreloaded_server)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
                            ).fetchone() == ("2.25.2",)
        with pytest.raises(psycopg.Error, match="preload"):
            conn.execute("CREATE EXTENSION timescaledb")


def test_auto_uses_postgres_with_one_warning_naming_the_fix(
    unpreloaded_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = _new_db(unpreloaded_server)
    with open_connection(url, autocommit=True) as conn, caplog.at_level(logging.WARNING, "heliosgrid.db.migrate"):
        result = migrate(conn, requested_backend="auto")
        assert migrate(conn, requested_backend="auto").applied == []  # recorded: no second warning
        assert recorded_backend(conn) == "postgres"
    assert result.backend == "postgres" and result.applied
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "installed but not preloaded" in warnings[0]
    assert "shared_preload_libraries = 'timescaledb'" in warnings[0]


def test_timescaledb_requested_fails_loudly_with_the_fix(unpreloaded_server: str) -> None:
    url = _new_db(unpreloaded_server)
    with open_connection(url, autocommit=True) as conn:
        with pytest.raises(MigrationError) as err:
            migrate(conn, requested_backend="timescaledb")
        assert recorded_backend(conn) is None  # nothing half-applied
    message = str(err.value)
    assert "TimescaleDB 2.25.2 is installed and not preloaded" in message
    assert "shared_preload_libraries" in message and "restart PostgreSQL" in message


def test_cli_migrate_and_info_on_the_unpreloaded_server(
    unpreloaded_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _new_db(unpreloaded_server)
    assert _cli(["db", "migrate"], url, "timescaledb", monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: HELIOS_DB_BACKEND=timescaledb but TimescaleDB 2.25.2 is installed and not preloaded")
    assert "Traceback" not in err and "must be preloaded" not in err  # not PostgreSQL's raw message
    assert _cli(["db", "migrate"], url, "auto", monkeypatch) == 0
    assert "on backend postgres" in capsys.readouterr().out
    assert _cli(["db", "info"], url, "auto", monkeypatch) == 0
    out = capsys.readouterr().out
    assert "timescaledb:        2.25.2 installed, not created in this database; preloaded: no" in out
    assert "job scheduler: not preloaded" in out


def test_info_on_native_timescaledb_shows_version_and_running_scheduler(
    timescale_module_db: str, timescale_server: object, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    if not getattr(timescale_server, "native", False):
        pytest.skip("PGlite has no job scheduler")
    assert _cli(["db", "info", "--json"], timescale_module_db, "auto", monkeypatch) == 0
    ts = json.loads(capsys.readouterr().out)["timescaledb"]
    assert (ts["version"], ts["preloaded"], ts["scheduler"], ts["launcher"]) == ("2.25.2", True, "running", "running")
    assert ts["jobs"] >= 5 and ts["jobs_failed"] == [] and ts["jobs_never_run"] == []
    assert _cli(["db", "info"], timescale_module_db, "auto", monkeypatch) == 0
    assert "timescaledb:        2.25.2; preloaded: yes; job scheduler: running" in capsys.readouterr().out
