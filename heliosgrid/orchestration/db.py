"""How Airflow tasks reach the HeliosGrid database — one documented way.

:func:`connection_url` returns a libpq URL:

1. from the Airflow connection ``heliosgrid_db`` when it is defined the Airflow way, through the
   environment variable ``AIRFLOW_CONN_HELIOSGRID_DB`` (URI form
   ``postgresql://user:pass@host:5432/heliosgrid?sslmode=require`` or Airflow's JSON form
   ``{"conn_type": "postgres", "host": …, "login": …, "password": …, "port": …, "schema": …,
   "extra": {"sslmode": …}}``);
2. otherwise from the project settings (``HELIOS_DATABASE_URL``, else the local default of
   :func:`heliosgrid.db.connection.resolve_database_url`).

Nothing here runs at DAG import time: DAG files call these functions inside tasks only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import psycopg

from heliosgrid.db.connection import open_connection, resolve_database_url
from heliosgrid.settings import Settings, get_settings

AIRFLOW_CONN_ENV = "AIRFLOW_CONN_HELIOSGRID_DB"
"""Environment variable holding the Airflow connection ``heliosgrid_db`` (URI or JSON)."""

_POSTGRES_SCHEMES = {"postgres", "postgresql"}


class ConnectionConfigError(ValueError):
    """``AIRFLOW_CONN_HELIOSGRID_DB`` is set but is not a usable PostgreSQL connection."""


def _from_json(raw: str) -> str:
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConnectionConfigError(f"{AIRFLOW_CONN_ENV} is neither a URI nor valid JSON: {exc.msg}") from None
    if not isinstance(spec, dict):
        raise ConnectionConfigError(f"{AIRFLOW_CONN_ENV} JSON must be an object")
    conn_type = str(spec.get("conn_type", "postgres")).lower()
    if conn_type not in _POSTGRES_SCHEMES:
        raise ConnectionConfigError(f"{AIRFLOW_CONN_ENV} conn_type must be 'postgres', got {conn_type!r}")
    host = spec.get("host") or "127.0.0.1"
    auth = ""
    if spec.get("login"):
        auth = quote(str(spec["login"]), safe="")
        if spec.get("password"):
            auth += ":" + quote(str(spec["password"]), safe="")
        auth += "@"
    port = f":{int(spec['port'])}" if spec.get("port") else ""
    extra = spec.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    query = urlencode({str(k): str(v) for k, v in extra.items()})
    return urlunsplit(("postgresql", f"{auth}{host}{port}", "/" + str(spec.get("schema") or "heliosgrid"), query, ""))


def airflow_connection_url(raw: str) -> str:
    """Translate an Airflow connection (URI or JSON) into a libpq URL."""
    raw = raw.strip()
    if raw.startswith("{"):
        return _from_json(raw)
    parts = urlsplit(raw)
    if parts.scheme.lower() not in _POSTGRES_SCHEMES or not parts.hostname:
        raise ConnectionConfigError(
            f"{AIRFLOW_CONN_ENV} must be a postgresql://user:password@host:port/dbname URI (got scheme "
            f"{parts.scheme or 'none'!r})"
        )
    return urlunsplit(("postgresql", parts.netloc, parts.path or "/heliosgrid", parts.query, ""))


def connection_url(settings: Settings | None = None) -> str:
    """The database URL for DAG tasks: ``AIRFLOW_CONN_HELIOSGRID_DB`` if set, else the settings."""
    raw = os.environ.get(AIRFLOW_CONN_ENV, "")
    if raw.strip():
        return airflow_connection_url(raw)
    return resolve_database_url(settings or get_settings())


@contextmanager
def task_connection(settings: Settings | None = None) -> Iterator[psycopg.Connection]:
    """An autocommit connection for one task (UTC session, 10 s connect timeout), closed after."""
    conn = open_connection(connection_url(settings), autocommit=True, connect_timeout_s=10)
    try:
        yield conn
    finally:
        conn.close()
