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
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg

Backend = Literal["timescaledb", "postgres"]
BACKENDS: tuple[Backend, ...] = ("timescaledb", "postgres")
_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<backend>timescaledb|postgres))?\.sql$")
NO_TRANSACTION = "-- helios:no-transaction"

log = logging.getLogger(__name__)

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


PRELOAD_FIX = (
    "add timescaledb to shared_preload_libraries in postgresql.conf "
    "(shared_preload_libraries = 'timescaledb'; ALTER SYSTEM SET shared_preload_libraries = 'timescaledb' "
    "works too) and restart PostgreSQL"
)
"""How to enable TimescaleDB on a server where the extension is installed but not preloaded."""


@dataclass(frozen=True)
class TimescaleSupport:
    """What the server offers for TimescaleDB (see :func:`timescaledb_support`)."""

    installed_version: str | None
    """``default_version`` of the installed extension files, None when not installed."""
    preloaded: bool
    """``timescaledb`` is in ``shared_preload_libraries`` (needed for its background jobs)."""
    created_version: str | None
    """The extension version created in this database, None when not created."""

    @property
    def usable(self) -> bool:
        """True when the backend can be TimescaleDB: created here, or installed and preloaded."""
        return self.created_version is not None or (self.installed_version is not None and self.preloaded)


def timescaledb_support(conn: psycopg.Connection) -> TimescaleSupport:
    """Ask the server (one query) whether TimescaleDB is installed, preloaded and created here."""
    row = conn.execute(
        """
        SELECT (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'),
               'timescaledb' = ANY(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')),
               (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')
        """
    ).fetchone()
    installed, preloaded, created = row if row else (None, False, None)
    return TimescaleSupport(installed, bool(preloaded), created)


def timescaledb_available(conn: psycopg.Connection) -> bool:
    """True when the server can run the TimescaleDB backend (installed and preloaded, or created)."""
    return timescaledb_support(conn).usable


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
    """Decide the backend (``HELIOS_DB_BACKEND``): the recorded one, else by what the server offers.

    * ``auto``: TimescaleDB only when the extension is preloaded (or already created in this
      database); installed but not preloaded → plain PostgreSQL and one warning naming the fix.
    * ``timescaledb``: TimescaleDB or a :class:`MigrationError` saying what is missing and the fix
      (never PostgreSQL's raw ``CREATE EXTENSION`` error).
    * ``postgres``: plain PostgreSQL.
    """
    if requested not in ("auto", *BACKENDS):
        raise MigrationError(f"HELIOS_DB_BACKEND={requested!r}: choose auto, timescaledb or postgres")
    recorded = recorded_backend(conn)
    if recorded is not None:
        if requested not in ("auto", recorded):
            raise MigrationError(
                f"this database was migrated for backend {recorded!r}; HELIOS_DB_BACKEND={requested!r} "
                "cannot change it (migrate a new database instead)"
            )
        return recorded
    if requested == "postgres":
        return "postgres"
    support = timescaledb_support(conn)
    if support.usable:
        return "timescaledb"
    if requested == "timescaledb":
        if support.installed_version is None:
            raise MigrationError(
                "HELIOS_DB_BACKEND=timescaledb but the timescaledb extension is not installed on this server "
                "(install TimescaleDB for this PostgreSQL, e.g. the timescale/timescaledb:2.25.2-pg15 image, "
                "or use HELIOS_DB_BACKEND=postgres)"
            )
        raise MigrationError(
            f"HELIOS_DB_BACKEND=timescaledb but TimescaleDB {support.installed_version} is installed and not "
            f"preloaded: {PRELOAD_FIX}"
        )
    if support.installed_version is not None:
        log.warning(
            "TimescaleDB %s is installed but not preloaded, so this database uses plain PostgreSQL. "
            "To use TimescaleDB: %s, then migrate a new database.", support.installed_version, PRELOAD_FIX,
        )
    return "postgres"


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
                _in_transaction(conn, text, record)
        except psycopg.Error as exc:
            hint = " (it ran without a transaction: check for partial changes)" if no_transaction else ""
            raise MigrationError(f"migration {m.path.name} failed{hint}: {str(exc).strip()}") from exc
        applied.append(m.version)
    return MigrateResult(backend=backend, applied=applied, already_applied=len(done))


#: Attempts of a transactional migration that loses a deadlock (ADR 0290 amendment).
DEADLOCK_ATTEMPTS = 5


def _in_transaction(conn: psycopg.Connection, text: str, record: Callable[[], None]) -> None:
    """Run one migration and its record in a transaction, again if it was chosen as a deadlock victim.

    On TimescaleDB a policy job of the background scheduler can hold a job lock while it waits for a
    relation the migration has locked (e.g. ALTER MATERIALIZED VIEW, then a policy change that needs the
    running job's lock). PostgreSQL then aborts one side; the aborted migration left nothing behind
    (its transaction rolled back), so it is re-run after a short pause, up to ``DEADLOCK_ATTEMPTS`` times.
    """
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute(text.encode())
                record()
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == DEADLOCK_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
