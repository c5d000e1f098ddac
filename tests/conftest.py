"""Shared fixtures: real services started for the test session.

* ``pg_server_url`` — the local PostgreSQL (127.0.0.1:5432, started by .ci/run).
* ``fresh_db`` — factory for a new, migrated database on it (plain-PostgreSQL backend).
* ``pg_db`` — one fresh migrated database per test module (URL string).
* ``timescale_url`` — a PGlite+TimescaleDB wire server (Node, tools/pglite) per session;
  one connection at a time, no COPY FROM STDIN.
* ``timescale_db`` — ``timescale_url`` migrated once (TimescaleDB backend, policies seeded).

Plain helpers (``free_port``, ``wait_port``, ``db_url``, ``stop_process``) live in ``tests/helpers.py``; import them
from there (``from tests.helpers import free_port``), never from ``conftest``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
from tests.helpers import db_url, free_port, stop_process, wait_port

REPO = Path(__file__).resolve().parents[1]
PG_SERVER_URL = os.environ.get("HELIOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    try:
        with psycopg.connect(PG_SERVER_URL, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"local PostgreSQL not reachable at {PG_SERVER_URL}: {exc}")
    return PG_SERVER_URL


@pytest.fixture(scope="session")
def fresh_db(pg_server_url: str) -> Iterator[Callable[..., str]]:
    """Factory: ``fresh_db(migrated=True)`` returns the URL of a new database, dropped at the end."""
    created: list[str] = []

    def make(migrated: bool = True) -> str:
        name = f"helios_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = db_url(pg_server_url, name)
        if migrated:
            with open_connection(url, autocommit=True) as conn:
                migrate(conn, requested_backend="postgres")
        return url

    yield make
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_db(fresh_db: Callable[..., str]) -> str:
    """URL of a migrated plain-PostgreSQL database private to the test module."""
    return fresh_db()


@pytest.fixture(scope="session")
def timescale_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PGlite+TimescaleDB server (in-memory) for the TimescaleDB path; session scoped."""
    node = shutil.which("node")
    tool = REPO / "tools" / "pglite"
    if node is None or not (tool / "node_modules" / "@unni-craftsman" / "pglite").is_dir():
        pytest.fail("PGlite tools missing: run `make setup` (npm install in tools/pglite)")
    port = free_port()
    log = tmp_path_factory.mktemp("pglite") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([node, "server.mjs", str(port), "127.0.0.1"], cwd=tool, stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_port("127.0.0.1", port, timeout_s=60)
        yield f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def timescale_db(timescale_url: str) -> str:
    """``timescale_url`` migrated once for the session (TimescaleDB backend, policies seeded).

    Shared by every area: open one connection at a time (close it before the next) and clean up
    only the rows your tests wrote (e.g. your own device/site ids), never TRUNCATE shared tables.
    """
    from heliosgrid.db.retention import seed_policies
    from heliosgrid.settings import load_settings

    with open_connection(timescale_url, autocommit=True) as conn:
        migrate(conn, requested_backend="timescaledb")
        seed_policies(conn, load_settings())
    return timescale_url


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu Kafka-protocol broker for the session; yields its bootstrap address."""
    from heliosgrid.broker import start_tansu

    port = free_port()
    log = tmp_path_factory.mktemp("tansu") / "broker.log"
    with open(log, "wb") as fh:
        proc = start_tansu(port, log=fh)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture
def topic_names() -> dict[str, str]:
    """Unique readings/DLQ topic names for one test (topics are never shared between tests)."""
    suffix = uuid.uuid4().hex[:8]
    return {"readings": f"test.readings.{suffix}", "dlq": f"test.readings.dlq.{suffix}"}
