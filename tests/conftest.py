"""Shared fixtures: real services started for the test session.

* ``pg_server_url`` — the local PostgreSQL (127.0.0.1:5432, started by .ci/run).
* ``fresh_db`` — factory for a new, migrated database on it (plain-PostgreSQL backend).
* ``pg_db`` — one fresh migrated database per test module (URL string).
* ``timescale_server`` — the session's TimescaleDB server: the native TimescaleDB 2.25.2
  cluster (``heliosgrid.db.timescale_server``) whenever ``../shared/timescaledb/pg-timescaledb``
  exists, else the PGlite+TimescaleDB WASM fallback (one connection, no COPY, no background
  jobs). ``HELIOS_TEST_TIMESCALE=native|pglite`` forces one; the pytest header and summary say
  which ran.
* ``timescale_url`` — an empty database on it; ``timescale_db`` — that database migrated once
  (TimescaleDB backend, policies seeded), shared by the session.
* ``timescale_fresh_db`` — factory for new migrated TimescaleDB databases, dropped after the
  test; ``timescale_module_db`` — one per module (native only; the shared one on PGlite).

Plain helpers (``free_port``, ``wait_port``, ``db_url``, ``stop_process``) live in ``tests/helpers.py``; import them
from there (``from tests.helpers import free_port``), never from ``conftest``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings

from heliosgrid.db.connection import open_connection
from heliosgrid.db.migrate import migrate
from heliosgrid.db.timescale_server import find_pg_timescaledb, start_native_timescale
from tests.helpers import db_url, free_port, stop_process, wait_for_policy_jobs, wait_port

# Property tests judge correctness, never speed (speed is `make bench`'s job): no per-example
# deadline, which on a loaded 2-core CI host failed a parser agreement test with no counterexample.
hypothesis_settings.register_profile("heliosgrid", deadline=None)
hypothesis_settings.load_profile("heliosgrid")

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


TIMESCALE_ENV = "HELIOS_TEST_TIMESCALE"
"""``native`` / ``pglite`` forces one TimescaleDB server; unset: native when ``pg-timescaledb`` exists."""

_timescale_ran: dict[str, str] = {}
"""What the ``timescale_server`` fixture started (``kind``, ``version``), for the terminal summary."""


def timescale_kind() -> str:
    """``'native'`` (../shared/timescaledb/pg-timescaledb) or ``'pglite'`` (fallback)."""
    forced = os.environ.get(TIMESCALE_ENV, "").strip().lower()
    if forced in ("native", "pglite"):
        return forced
    return "native" if find_pg_timescaledb() is not None else "pglite"


def pytest_report_header(config: pytest.Config) -> str:
    kind = timescale_kind()
    script = find_pg_timescaledb()
    if kind == "native" and script is not None:
        libs = sorted(p.name for p in (script.parent / "lib").glob("timescaledb-2*.so"))
        version = libs[0].removeprefix("timescaledb-").removesuffix(".so") if libs else "?"
        return f"timescaledb: native TimescaleDB {version} via {script}"
    return "timescaledb: PGlite+TimescaleDB (WASM fallback: one connection, no COPY, no background jobs)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _timescale_ran:
        terminalreporter.write_line(
            f"TimescaleDB tests ran on: {_timescale_ran['kind']} ({_timescale_ran['version']})"
        )


@dataclass(frozen=True)
class TimescaleServer:
    """The session's TimescaleDB server: ``url`` of its ``postgres`` database and its ``kind``."""

    kind: str
    url: str

    @property
    def native(self) -> bool:
        return self.kind == "native"


def _record_version(server: TimescaleServer) -> None:
    with open_connection(server.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), (SELECT default_version FROM pg_available_extensions "
            "WHERE name = 'timescaledb')"
        ).fetchone()
    pg, ts = row if row else ("?", "?")
    _timescale_ran.update(kind=server.kind, version=f"PostgreSQL {pg}, TimescaleDB {ts}")


@pytest.fixture(scope="session")
def timescale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimescaleServer]:
    """The native TimescaleDB cluster (when ``pg-timescaledb`` exists) else a PGlite server."""
    if timescale_kind() == "native":
        cluster = start_native_timescale(free_port())
        try:
            server = TimescaleServer("native", cluster.url)
            _record_version(server)
            yield server
        finally:
            cluster.stop()
        return
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
        server = TimescaleServer("pglite", f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable")
        with open_connection(server.url, autocommit=True) as conn:
            # PGlite links TimescaleDB in without shared_preload_libraries: create it here so that
            # the backend choice (TimescaleDB only when preloaded or created) sees it
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        _record_version(server)
        yield server
    finally:
        stop_process(proc)


def _create_timescale_db(server: TimescaleServer, migrated: bool) -> str:
    name = f"helios_ts_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = db_url(server.url, name)
    if migrated:
        from heliosgrid.db.retention import seed_policies
        from heliosgrid.settings import load_settings

        with open_connection(url, autocommit=True) as conn:
            migrate(conn, requested_backend="timescaledb")
            seed_policies(conn, load_settings())
            wait_for_policy_jobs(conn)
    return url


def _drop_timescale_dbs(server: TimescaleServer, urls: list[str]) -> None:
    """Drop databases made for a test/module: each one holds a TimescaleDB scheduler worker."""
    with psycopg.connect(server.url, autocommit=True) as conn:
        for url in urls:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture
def timescale_fresh_db(timescale_server: TimescaleServer) -> Iterator[Callable[..., str]]:
    """Factory: ``timescale_fresh_db(migrated=True)`` → URL of a new database on the native server.

    Each call creates its own database (TimescaleDB backend, policies seeded and their first run
    done when migrated), dropped after the test, so a test can change jobs, drop chunks or
    compress without touching others. Native only: PGlite serves a single database, so tests
    using this are skipped on the fallback.
    """
    if not timescale_server.native:
        pytest.skip("needs native TimescaleDB (PGlite serves one database, no background jobs)")
    created: list[str] = []

    def make(migrated: bool = True) -> str:
        created.append(_create_timescale_db(timescale_server, migrated))
        return created[-1]

    yield make
    _drop_timescale_dbs(timescale_server, created)


@pytest.fixture(scope="module")
def timescale_module_db(timescale_server: TimescaleServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated TimescaleDB database private to the test module on native, dropped after it.

    For modules that change policy jobs, compress or drop chunks. On the PGlite fallback (one
    database) it is the shared ``timescale_db``.
    """
    if not timescale_server.native:
        yield str(request.getfixturevalue("timescale_db"))
        return
    url = _create_timescale_db(timescale_server, migrated=True)
    yield url
    _drop_timescale_dbs(timescale_server, [url])


@pytest.fixture(scope="session")
def timescale_url(timescale_server: TimescaleServer) -> str:
    """An empty database on the TimescaleDB server (native: its own database; PGlite: ``postgres``)."""
    if not timescale_server.native:
        return timescale_server.url
    name = f"helios_ts_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(timescale_server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return db_url(timescale_server.url, name)


@pytest.fixture(scope="session")
def timescale_db(timescale_url: str) -> str:
    """``timescale_url`` migrated once for the session (TimescaleDB backend, policies seeded).

    Shared by every area: clean up only the rows your tests wrote (e.g. your own device/site
    ids), never TRUNCATE shared tables. On the PGlite fallback open one connection at a time.
    Tests that change jobs, compress or drop chunks use ``timescale_fresh_db`` instead.
    """
    from heliosgrid.db.retention import seed_policies
    from heliosgrid.settings import load_settings

    with open_connection(timescale_url, autocommit=True) as conn:
        migrate(conn, requested_backend="timescaledb")
        seed_policies(conn, load_settings())
        # the policy jobs' first run (about 1 s after creation) must not race the tests' rows
        wait_for_policy_jobs(conn)
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
