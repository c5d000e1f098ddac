"""The embedded default: a pgserver PostgreSQL under a data directory, migrated and reachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from heliosgrid.db.connection import _ensure_database, open_connection, with_database
from heliosgrid.db.embedded import start_embedded, stop_embedded
from heliosgrid.db.info import database_info
from heliosgrid.db.migrate import migrate

pytestmark = pytest.mark.integration


def test_embedded_server_starts_migrates_and_stops(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    server_url = start_embedded(pgdata)
    try:
        assert "host=" in server_url  # Unix socket inside the data directory: no TCP port used
        _ensure_database(server_url, "heliosgrid")
        url = with_database(server_url, "heliosgrid")
        with open_connection(url, autocommit=True) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("heliosgrid",)
            result = migrate(conn)
            assert result.backend == "postgres"
            assert database_info(conn)["rollups"] == ["readings_15m", "readings_1h", "readings_1d"]
    finally:
        assert stop_embedded(pgdata) is True
    assert not (pgdata / "postmaster.pid").exists()
    assert stop_embedded(pgdata) is False
