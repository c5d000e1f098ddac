"""Connections to the HeliosGrid database.

* :func:`resolve_database_url` is a **pure** resolver: ``HELIOS_DATABASE_URL`` when set, else the
  local default ``postgresql://postgres@127.0.0.1:5432/<local_database_name>``. It never
  connects and never starts anything, so a service given a URL it cannot reach fails at its
  first connection with :class:`DatabaseUnavailable` ("cannot connect to …").
* :func:`ensure_local_database` is the explicit local-mode step that only ``make up`` /
  ``heliosgrid stack`` and the CLI's local mode take: with no URL configured it uses the local
  PostgreSQL when one answers (creating the database on first use) and otherwise starts an
  embedded PostgreSQL (the ``pgserver`` wheel) under ``<data_dir>/pgdata``.
* :func:`open_connection` opens a connection with the session defaults.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from heliosgrid.settings import Settings, get_settings, redact_url

log = logging.getLogger(__name__)

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message never contains a password."""


def server_reachable(url: str, timeout_s: int = 3) -> bool:
    """True when a connection to ``url`` succeeds within ``timeout_s`` (s); never raises."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_s, autocommit=True):
            return True
    except psycopg.Error:
        return False


def _ensure_database(server_url: str, dbname: str) -> None:
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            log.info("created database %s", dbname)


def with_database(url: str, dbname: str) -> str:
    """``url`` (a libpq URL or key=value string) pointing at database ``dbname`` instead.

    Keeps everything else, including a query string such as ``?host=/path/to/socket`` (the
    embedded server's URL), which a naive ``rsplit('/')`` would cut in the wrong place.
    """
    if "://" in url:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(dbname), parts.query, parts.fragment))
    return make_conninfo(url, dbname=dbname)


def _configured_url(settings: Settings) -> str | None:
    if settings.database_url is not None and settings.database_url.get_secret_value().strip():
        return settings.database_url.get_secret_value()
    return None


def resolve_database_url(settings: Settings | None = None) -> str:
    """The libpq URL to use: ``HELIOS_DATABASE_URL``, else the local default (pure: no I/O)."""
    settings = settings or get_settings()
    return _configured_url(settings) or with_database(LOCAL_SERVER_URL, settings.local_database_name)


def ensure_local_database(settings: Settings | None = None) -> str:
    """Local mode (``make up``, ``heliosgrid stack``, the CLI): a URL that answers, starting one if needed.

    With ``HELIOS_DATABASE_URL`` set this is :func:`resolve_database_url` (nothing is started:
    an explicit server that does not answer is reported by the first connection). Otherwise
    the local PostgreSQL at 127.0.0.1:5432 is used when it answers, else an embedded PostgreSQL
    is started (or reused) under ``<data_dir>/pgdata``; the database ``local_database_name``
    is created there on first use.
    """
    settings = settings or get_settings()
    configured = _configured_url(settings)
    if configured is not None:
        return configured
    if server_reachable(LOCAL_SERVER_URL):
        _ensure_database(LOCAL_SERVER_URL, settings.local_database_name)
        return with_database(LOCAL_SERVER_URL, settings.local_database_name)
    from heliosgrid.db.embedded import start_embedded

    server_url = start_embedded(settings.data_dir / "pgdata")
    _ensure_database(server_url, settings.local_database_name)
    return with_database(server_url, settings.local_database_name)


_single_session_servers: dict[str, bool] = {}
_single_session_lock = threading.Lock()


def is_pglite(conn: psycopg.Connection[Any]) -> bool:
    """Capability check, once per server and process: is this PGlite (PostgreSQL in WASM)?

    PGlite, the test fallback for TimescaleDB where ``../shared`` is missing, shares ONE session
    between clients (prepared statements of an earlier client survive and collide with psycopg's
    names ``_pg3_0``, …) and cannot stream ``COPY FROM STDIN``. A real server is asked once per
    ``host:port/dbname``, then never again, so no PGlite path runs on a real server's hot path.
    """
    key = conn.info.dsn
    with _single_session_lock:
        known = _single_session_servers.get(key)
    if known is None:
        row = conn.execute("SELECT position('Emscripten' IN version()) > 0").fetchone()
        known = bool(row and row[0])
        with _single_session_lock:
            _single_session_servers[key] = known
    return known


def open_connection(url: str, *, autocommit: bool = False, connect_timeout_s: int = 10,
                    application_name: str | None = None) -> psycopg.Connection:
    """Open a psycopg connection with HeliosGrid session defaults.

    ``client_min_messages = warning`` silences servers that send DEBUG notices to clients and
    ``timezone = UTC`` makes every timestamp text UTC (one round trip; sent as SET rather than a
    startup ``options`` parameter, which PgBouncer refuses). Raises :class:`DatabaseUnavailable`
    naming the (redacted) URL when the server cannot be reached. On a server that shares one session between clients (PGlite,
    see :func:`is_pglite`), ``DEALLOCATE ALL`` clears the previous client's prepared
    statements; behind a transaction-pooling PgBouncer that would remove statements other
    clients rely on, which is why it never runs on a real server. ``application_name`` (shown in
    ``pg_stat_activity``) is sent as a startup parameter, no extra round trip.
    """
    conninfo = make_conninfo(url, application_name=application_name) if application_name else url
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout_s)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {redact_url(str(exc)).strip()}") from None
    conn.execute("SET client_min_messages = warning; SET timezone = 'UTC'")
    if is_pglite(conn):
        conn.execute("DEALLOCATE ALL")
    conn.autocommit = autocommit
    return conn


@contextmanager
def connect(
    settings: Settings | None = None, *, url: str | None = None, autocommit: bool = False
) -> Iterator[psycopg.Connection]:
    """Context manager yielding a connection; commits on success, rolls back on error."""
    target = url or resolve_database_url(settings)
    conn = open_connection(target, autocommit=autocommit)
    try:
        with conn:
            yield conn
    finally:
        if not conn.closed:
            conn.close()
