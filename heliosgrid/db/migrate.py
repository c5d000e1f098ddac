"""Numbered SQL migrations with checksums and two backends.

Files live in ``db/migrations`` and are named ``NNNN_description[.backend].sql``:

* ``0003_readings.sql`` runs on every backend;
* ``0003_readings.timescaledb.sql`` / ``0003_readings.postgres.sql`` are the two variants of one
  migration, and exactly the one matching the database's backend runs.

Each applied migration is recorded in ``schema_migrations`` with the SHA-256 of the file that
ran. Applying again is a no-op; a file edited after it was applied is refused with
:class:`MigrationError`. A file whose first line is ``-- helios:no-transaction`` runs in
autocommit mode (needed for statements that TimescaleDB refuses inside a transaction);
all others run in one transaction each.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg

Backend = Literal["timescaledb", "postgres"]
BACKENDS: tuple[Backend, ...] = ("timescaledb", "postgres")
_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<backend>timescaledb|postgres))?\.sql$")
NO_TRANSACTION = "-- helios:no-transaction"

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "db" / "migrations"


class MigrationError(RuntimeError):
    """A migration cannot be applied; the message says which file and why."""


@dataclass(frozen=True)
class Migration:
    """One migration as it applies to one backend."""

    version: int
    name: str
    path: Path
    checksum: str

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(directory: Path, backend: Backend) -> list[Migration]:
    """List the migrations in ``directory`` that apply to ``backend``, in version order."""
    if not directory.is_dir():
        raise MigrationError(f"migrations directory not found: {directory}")
    by_version: dict[int, dict[str | None, Path]] = {}
    names: dict[int, str] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: not a migration name (expected NNNN_name[.backend].sql)")
        version = int(match["version"])
        if version in names and names[version] != match["name"]:
            raise MigrationError(f"two migrations share version {version:04d}: {names[version]} and {match['name']}")
        names[version] = match["name"]
        by_version.setdefault(version, {})[match["backend"]] = path
    out: list[Migration] = []
    for version in sorted(by_version):
        variants = by_version[version]
        if None in variants and len(variants) > 1:
            raise MigrationError(f"migration {version:04d} has both a common file and backend variants")
        if None not in variants and set(variants) != set(BACKENDS):
            raise MigrationError(f"migration {version:04d} needs both .timescaledb.sql and .postgres.sql variants")
        path = variants.get(None) or variants[backend]
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append(Migration(version, names[version], path, checksum))
    return out


def timescaledb_available(conn: psycopg.Connection) -> bool:
    """True when the server can load the ``timescaledb`` extension."""
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return row is not None


def _bootstrap(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS helios_meta (
            key   text PRIMARY KEY,
            value text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            backend     text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now(),
            duration_ms integer NOT NULL
        );
        """
    )


def recorded_backend(conn: psycopg.Connection) -> Backend | None:
    """The backend this database was migrated with, or None for a fresh database."""
    exists = conn.execute("SELECT to_regclass('helios_meta') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT value FROM helios_meta WHERE key = 'backend'").fetchone()
    return row[0] if row else None  # type: ignore[return-value]


def choose_backend(conn: psycopg.Connection, requested: str = "auto") -> Backend:
    """Decide the backend: the recorded one, else TimescaleDB when available (``auto``)."""
    recorded = recorded_backend(conn)
    if recorded is not None:
        if requested not in ("auto", recorded):
            raise MigrationError(
                f"this database was migrated for backend {recorded!r}; HELIOS_DB_BACKEND={requested!r} "
                "cannot change it (migrate a new database instead)"
            )
        return recorded
    has_tsdb = timescaledb_available(conn)
    if requested == "timescaledb" and not has_tsdb:
        raise MigrationError("HELIOS_DB_BACKEND=timescaledb but the timescaledb extension is not available here")
    if requested == "postgres":
        return "postgres"
    return "timescaledb" if has_tsdb else "postgres"


@dataclass
class MigrateResult:
    backend: Backend
    applied: list[int]
    already_applied: int


MIGRATION_LOCK_KEY = 0x48454C494F53  # "HELIOS": one migrator at a time per database


def migrate(conn: psycopg.Connection, directory: Path | None = None, requested_backend: str = "auto") -> MigrateResult:
    """Apply every pending migration in order. ``conn`` must be in autocommit mode.

    Concurrent callers (several containers starting at once) are serialised by a session
    advisory lock; the second one finds everything applied. Each transactional migration is
    recorded in ``schema_migrations`` in the same transaction that applies it, so a crash can
    never leave a migration applied but unrecorded.
    """
    if not conn.autocommit:
        raise MigrationError("migrate() needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        return _migrate_locked(conn, directory or DEFAULT_MIGRATIONS_DIR, requested_backend)
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _migrate_locked(conn: psycopg.Connection, directory: Path, requested_backend: str) -> MigrateResult:
    backend = choose_backend(conn, requested_backend)
    migrations = discover(directory, backend)
    _bootstrap(conn)
    conn.execute(
        "INSERT INTO helios_meta(key, value) VALUES ('backend', %s) ON CONFLICT (key) DO NOTHING", (backend,)
    )
    done = {
        int(v): (name, checksum)
        for v, name, checksum in conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    }
    known = {m.version for m in migrations}
    for version in sorted(set(done) - known):
        raise MigrationError(
            f"database has migration {version:04d} ({done[version][0]}) that is not in {directory}; "
            "is this an older checkout?"
        )
    for m in migrations:
        if m.version in done and done[m.version][1] != m.checksum:
            raise MigrationError(
                f"migration {m.path.name} was edited after it was applied (checksum {done[m.version][1][:12]}… "
                f"recorded, file is {m.checksum[:12]}…). Applied migrations are immutable: revert the edit and "
                "add a new numbered migration instead."
            )
    applied: list[int] = []
    for m in migrations:
        if m.version in done:
            continue
        text = m.sql
        no_transaction = text.lstrip().startswith(NO_TRANSACTION)
        started = time.perf_counter()

        def record(m: Migration = m, started: float = started) -> None:
            conn.execute(
                "INSERT INTO schema_migrations(version, name, backend, checksum, duration_ms) VALUES (%s,%s,%s,%s,%s)",
                (m.version, m.name, backend, m.checksum, int((time.perf_counter() - started) * 1000)),
            )

        try:
            if no_transaction:
                conn.execute(text.encode())
                record()
            else:
                with conn.transaction():
                    conn.execute(text.encode())
                    record()
        except psycopg.Error as exc:
            hint = " (it ran without a transaction: check for partial changes)" if no_transaction else ""
            raise MigrationError(f"migration {m.path.name} failed{hint}: {str(exc).strip()}") from exc
        applied.append(m.version)
    return MigrateResult(backend=backend, applied=applied, already_applied=len(done))
