"""The embedded PostgreSQL (pgserver) is recorded as the stack's own and stopped by `down`;
the local server is used but never recorded."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from heliosgrid.db.embedded import start_embedded
from heliosgrid.settings import Settings, load_settings
from heliosgrid.stack import Supervisor
from heliosgrid.stack.components import database_spec
from heliosgrid.stack.process import pid_alive

pytestmark = pytest.mark.integration


def embedded_only(settings: Settings) -> str:
    """The embedded branch of resolve_database_url (the local server is up on this machine)."""
    return start_embedded(settings.data_dir / "pgdata")


def test_embedded_database_is_adopted_and_stopped(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    sup = Supervisor([database_spec(settings, resolve=embedded_only)], tmp_path, echo=lambda _l: None)
    sup.up()
    try:
        [status] = sup.component_status()
        postmaster = int((tmp_path / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
        assert (status.state, status.pid, status.healthy) == ("running", postmaster, True)
        url = json.loads(sup.state_file.read_text())["env"]["HELIOS_DATABASE_URL"]
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        outcomes = sup.down()
    assert outcomes == [("database", "stopped")]
    assert not pid_alive(postmaster)
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()  # clean (fast) shutdown


def test_local_database_is_used_but_never_stopped(tmp_path: Path, pg_db: str) -> None:
    settings = load_settings(data_dir=tmp_path, database_url=pg_db)
    sup = Supervisor([database_spec(settings)], tmp_path, echo=lambda _l: None)
    sup.up()
    [status] = sup.component_status()
    assert (status.state, status.pid, status.healthy) == ("external", None, True)
    assert sup.down() == []
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
