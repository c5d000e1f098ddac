"""Retention and compression policies (placeholder seeding; the DBA interface builds on it)."""

from __future__ import annotations

import psycopg

from heliosgrid.settings import Settings


def seed_policies(conn: psycopg.Connection, settings: Settings) -> None:
    """Insert the configured default policies where none exist yet (DBA changes are kept)."""
    from heliosgrid.db.migrate import recorded_backend

    backend = recorded_backend(conn)
    defaults = {
        "readings": (settings.retention_raw_days, settings.compress_raw_after_days if backend == "timescaledb" else None),
        "readings_15m": (settings.retention_15m_days, None),
        "readings_1h": (settings.retention_1h_days, None),
        "readings_1d": (settings.retention_1d_days, None),
    }
    for relation, (drop_days, compress_days) in defaults.items():
        conn.execute(
            "INSERT INTO retention_policies(relation, drop_after, compress_after) "
            "VALUES (%s, make_interval(days => %s), make_interval(days => %s)) ON CONFLICT (relation) DO NOTHING",
            (relation, drop_days, compress_days),
        )
