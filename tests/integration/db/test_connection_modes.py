"""Connections on real servers: no PGlite-only statement after the first connection, the pure
resolver, the explicit local-mode step, and a clear error for a URL nobody answers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heliosgrid.db import connection
from heliosgrid.db.connection import ensure_local_database, open_connection
from heliosgrid.settings import get_settings, load_settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration


def _statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = psycopg.Connection.execute

    def recording(self: psycopg.Connection, query: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", recording)
    return seen


@pytest.mark.parametrize("server", ["postgres", "timescaledb"])
def test_real_servers_get_no_pglite_statement_after_the_first_connection(
    server: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(request.getfixturevalue("pg_db" if server == "postgres" else "timescale_db"))
    if "sslmode=disable" in url and "postgres:postgres@" in url:
        pytest.skip("PGlite fallback: the per-connection reset is exactly what it needs")
    connection._single_session_servers.clear()  # keyed per server (conn.info.dsn): forget every answer
    seen = _statements(monkeypatch)
    with open_connection(url) as conn:  # first connection: the capability is asked once
        assert conn.execute("SHOW timezone").fetchone() == ("UTC",)
    assert sum("Emscripten" in q for q in seen) == 1
    seen.clear()
    for _ in range(3):
        with open_connection(url, autocommit=True) as conn:
            pass
    assert seen == ["SET client_min_messages = warning; SET timezone = 'UTC'"] * 3
    assert not any("DEALLOCATE" in q for q in seen)


def test_ensure_local_database_creates_the_local_database(pg_server_url: str, tmp_path: Path) -> None:
    name = f"helios_local_{uuid.uuid4().hex[:10]}"
    settings = load_settings(database_url=None, local_database_name=name, data_dir=tmp_path)
    try:
        url = ensure_local_database(settings)
        assert url == f"postgresql://postgres@127.0.0.1:5432/{name}"
        with open_connection(url, autocommit=True) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
        assert not (tmp_path / "pgdata").exists()  # the local server answered: nothing embedded
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("command", [["db", "info"], ["retention", "show"], ["db", "migrate"]])
def test_an_unreachable_url_fails_with_a_clear_message_and_starts_nothing(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from heliosgrid.cli import main

    port = free_port()
    monkeypatch.setenv("HELIOS_DATABASE_URL", f"postgresql://helios:pw@127.0.0.1:{port}/plant")
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert main(command) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot connect to postgresql://helios:***@127.0.0.1:{port}/plant")
    assert "pw@" not in err and "Traceback" not in err
    assert not (tmp_path / "pgdata").exists()
