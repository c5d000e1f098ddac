"""Database access: connections, embedded default, migrations, batch writer, retention."""

from heliosgrid.db.connection import DatabaseUnavailable, connect, resolve_database_url

__all__ = ["DatabaseUnavailable", "connect", "resolve_database_url"]
