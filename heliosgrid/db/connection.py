"""Connections to the HeliosGrid database.

``resolve_database_url`` implements the embedded default: with no ``HELIOS_DATABASE_URL`` the
local PostgreSQL at 127.0.0.1:5432 is used (database ``heliosgrid``, created on first use); when
nothing listens there an embedded PostgreSQL (the ``pgserver`` wheel) is started under
``<data_dir>/pgdata``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from heliosgrid.settings import Settings, get_settings, redact_url

log = logging.getLogger(__name__)

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message never contains a password."""


def _try_connect(url: str, timeout_s: int = 3) -> bool:
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


def resolve_database_url(settings: Settings | None = None) -> str:
    """Return the libpq URL to use, starting the embedded default when needed."""
    settings = settings or get_settings()
    if settings.database_url is not None and settings.database_url.get_secret_value().strip():
        return settings.database_url.get_secret_value()
    if _try_connect(LOCAL_SERVER_URL):
        _ensure_database(LOCAL_SERVER_URL, settings.local_database_name)
        return with_database(LOCAL_SERVER_URL, settings.local_database_name)
    from heliosgrid.db.embedded import start_embedded

    server_url = start_embedded(settings.data_dir / "pgdata")
    _ensure_database(server_url, settings.local_database_name)
    return with_database(server_url, settings.local_database_name)


def open_connection(url: str, *, autocommit: bool = False, connect_timeout_s: int = 10) -> psycopg.Connection:
    """Open a psycopg connection with HeliosGrid session defaults.

    ``client_min_messages = warning`` silences servers (PGlite+TimescaleDB) that send DEBUG
    notices to clients; ``timezone = UTC`` makes every timestamp text UTC; on PGlite,
    ``DEALLOCATE ALL`` clears prepared statements left in its single shared session by earlier
    connections.
    """
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout_s)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot connect to {redact_url(url)}: {redact_url(str(exc)).strip()}") from None
    conn.execute("SET client_min_messages = warning")
    conn.execute("SET timezone = 'UTC'")
    # PGlite (PostgreSQL compiled to WASM with Emscripten) serves every client connection from
    # ONE backend session, so prepared statements of an earlier connection survive and collide
    # with psycopg's names (_pg3_0, ...). Only there: behind a transaction-pooling PgBouncer a
    # DEALLOCATE ALL would remove statements other clients rely on.
    row = conn.execute("SELECT position('Emscripten' IN version()) > 0").fetchone()
    if row and row[0]:
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
