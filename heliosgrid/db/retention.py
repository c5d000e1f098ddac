"""Retention and compression policies: the DBA interface behind ``heliosgrid retention``.

The ``retention_policies`` table is the catalogue on both backends: one row per managed
relation (``readings`` and the three rollups) with ``drop_after`` (drop data older than this,
``NULL`` = keep forever) and ``compress_after`` (compress raw chunks older than this; TimescaleDB
only, ``NULL`` = never).

* **TimescaleDB**: the policies are enforced by TimescaleDB background jobs
  (``add_retention_policy`` / ``add_compression_policy``). Every change goes to the catalogue
  first and the jobs are then re-synchronised from it, so the catalogue and
  ``timescaledb_information.jobs`` agree and ``heliosgrid db migrate`` (which calls
  :func:`seed_policies`) re-registers exactly what the DBA set.
* **plain PostgreSQL**: the catalogue is enforced by ``helios_apply_retention()`` (called by
  :func:`heliosgrid.db.rollups.apply_retention`), which drops whole partitions. Compression is
  refused with a clear message.

Durations are written ``<integer><unit>`` with unit ``h`` (hours), ``d`` (days) or ``w``
(weeks), e.g. ``12h``, ``90d``, ``2w``; ``none`` means "keep forever" / "never compress".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg

from heliosgrid.settings import Settings

RELATIONS: Final[tuple[str, ...]] = ("readings", "readings_15m", "readings_1h", "readings_1d")
"""Relations whose data lifecycle HeliosGrid manages (raw hypertable and the three rollups)."""

COMPRESSIBLE: Final[frozenset[str]] = frozenset({"readings"})
"""Relations with TimescaleDB compression configured (migration 0003, segment by device)."""

MIN_DROP_AFTER: Final[dict[str, timedelta]] = {
    "readings": timedelta(days=7),
    "readings_15m": timedelta(days=8),
    "readings_1h": timedelta(days=35),
}
"""``drop_after`` must be longer than this per relation (``readings_1d`` feeds nothing).

A relation feeding a rollup must keep its data longer than the rollup's refresh window
(``start_offset`` of the continuous-aggregate policies in migration 0004: 15 min ← raw over
7 days, 1 h ← 15 min over 8 days, 1 day ← 1 h over 35 days); otherwise a refresh over a window
whose source data is already gone would erase the rollup rows built from it. The same limits
apply on plain PostgreSQL so that a policy means the same on both backends.
"""

MAX_DURATION: Final[timedelta] = timedelta(days=100 * 366)
_DURATION = re.compile(r"^(?P<n>[0-9]{1,7})(?P<unit>[hdw])$")
_UNIT_HOURS: Final[dict[str, int]] = {"h": 1, "d": 24, "w": 24 * 7}
NONE_WORDS: Final[frozenset[str]] = frozenset({"none", "never", "forever", "off"})


class PolicyError(ValueError):
    """A policy value or change is invalid; the message says exactly what and why."""


class _Keep:
    """Sentinel type: leave this part of a policy unchanged."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()


def parse_duration(text: str) -> timedelta | None:
    """Parse ``12h`` / ``90d`` / ``2w`` into a :class:`~datetime.timedelta`; ``none`` → ``None``.

    Raises :class:`PolicyError` with the offending text for anything else (empty, zero,
    negative, fractional, unknown unit, or longer than 100 years).
    """
    raw = text.strip().lower()
    if raw in NONE_WORDS:
        return None
    match = _DURATION.match(raw)
    if not match:
        raise PolicyError(
            f"invalid duration {text!r}: expected a whole number followed by h, d or w "
            "(e.g. 12h, 90d, 2w) or 'none'"
        )
    hours = int(match["n"]) * _UNIT_HOURS[match["unit"]]
    if hours == 0:
        raise PolicyError(f"invalid duration {text!r}: must be greater than zero (use 'none' to disable)")
    value = timedelta(hours=hours)
    if value > MAX_DURATION:
        raise PolicyError(f"invalid duration {text!r}: longer than 100 years (use 'none' to keep forever)")
    return value


def format_duration(value: timedelta | None) -> str:
    """Inverse of :func:`parse_duration`: ``Nd`` for whole days, else ``Nh`` (weeks show as days).

    Durations that are not whole hours (possible only when set outside HeliosGrid) are shown
    as PostgreSQL would, e.g. ``0:30:00``.
    """
    if value is None:
        return "none"
    seconds = int(value.total_seconds())
    if seconds <= 0 or seconds % 3600 or value.microseconds:
        return str(value)
    hours = seconds // 3600
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


@dataclass(frozen=True)
class Policy:
    """One row of the policy catalogue, plus what TimescaleDB actually runs (if it is there).

    ``job_drop_after`` / ``job_compress_after`` are the intervals of the registered TimescaleDB
    jobs (``None`` when no job exists); on plain PostgreSQL they are always ``None`` and
    ``in_sync`` is ``True``.
    """

    relation: str
    drop_after: timedelta | None
    compress_after: timedelta | None
    updated_at: datetime | None
    updated_by: str | None
    backend: str
    retention_job_id: int | None = None
    compression_job_id: int | None = None
    job_drop_after: timedelta | None = None
    job_compress_after: timedelta | None = None

    @property
    def in_sync(self) -> bool:
        """True when the enforcing jobs match the catalogue (always true on plain PostgreSQL)."""
        if self.backend != "timescaledb":
            return True
        return self.job_drop_after == self.drop_after and self.job_compress_after == self.compress_after

    def as_json(self) -> dict[str, Any]:
        """JSON-friendly dict: durations as ``90d``-style strings, timestamps ISO 8601."""
        return {
            "relation": self.relation,
            "drop_after": format_duration(self.drop_after),
            "compress_after": format_duration(self.compress_after),
            "drop_after_s": None if self.drop_after is None else int(self.drop_after.total_seconds()),
            "compress_after_s": None if self.compress_after is None else int(self.compress_after.total_seconds()),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
            "backend": self.backend,
            "retention_job_id": self.retention_job_id,
            "compression_job_id": self.compression_job_id,
            "in_sync": self.in_sync,
        }


def _backend(conn: psycopg.Connection) -> str:
    from heliosgrid.db.migrate import recorded_backend

    backend = recorded_backend(conn)
    if backend is None:
        raise PolicyError("the database is not initialised: run `heliosgrid db migrate` first")
    return backend


def _jobs(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[int, timedelta]]:
    """Registered retention/compression jobs: (relation, kind) → (job_id, interval)."""
    rows = conn.execute(
        """
        SELECT j.hypertable_name, j.proc_name, j.job_id,
               (j.config ->> CASE j.proc_name WHEN 'policy_retention' THEN 'drop_after'
                                              ELSE 'compress_after' END)::interval
        FROM timescaledb_information.jobs j
        WHERE j.proc_name IN ('policy_retention', 'policy_compression')
          AND j.hypertable_schema = 'public'
        ORDER BY j.job_id
        """
    ).fetchall()
    out: dict[tuple[str, str], tuple[int, timedelta]] = {}
    for relation, proc, job_id, interval in rows:
        kind = "retention" if proc == "policy_retention" else "compression"
        out[(str(relation), kind)] = (int(job_id), interval)
    return out


def show_policies(conn: psycopg.Connection) -> list[Policy]:
    """The policy catalogue, joined with the TimescaleDB jobs when on TimescaleDB."""
    backend = _backend(conn)
    rows = conn.execute(
        "SELECT relation, drop_after, compress_after, updated_at, updated_by FROM retention_policies "
        "ORDER BY array_position(%s::text[], relation)",
        (list(RELATIONS),),
    ).fetchall()
    jobs = _jobs(conn) if backend == "timescaledb" else {}
    out = []
    for relation, drop_after, compress_after, updated_at, updated_by in rows:
        retention = jobs.get((relation, "retention"))
        compression = jobs.get((relation, "compression"))
        out.append(
            Policy(
                relation=relation,
                drop_after=drop_after,
                compress_after=compress_after,
                updated_at=updated_at,
                updated_by=updated_by,
                backend=backend,
                retention_job_id=retention[0] if retention else None,
                compression_job_id=compression[0] if compression else None,
                job_drop_after=retention[1] if retention else None,
                job_compress_after=compression[1] if compression else None,
            )
        )
    return out


def validate_policy(
    backend: str, relation: str, drop_after: timedelta | None, compress_after: timedelta | None
) -> None:
    """Refuse a policy that cannot work, with the reason (see :data:`MIN_DROP_AFTER`)."""
    if relation not in RELATIONS:
        raise PolicyError(f"unknown relation {relation!r}: choose one of {', '.join(RELATIONS)}")
    minimum = MIN_DROP_AFTER.get(relation)
    if drop_after is not None and minimum is not None and drop_after <= minimum:
        raise PolicyError(
            f"{relation}: drop-after {format_duration(drop_after)} is too short: it must be longer than "
            f"{format_duration(minimum)}, the refresh window of the rollup built from it"
        )
    if compress_after is None:
        return
    if backend != "timescaledb":
        raise PolicyError(
            "compression needs TimescaleDB: this database uses the plain-PostgreSQL backend "
            "(use --compress-after none, or migrate a TimescaleDB database)"
        )
    if relation not in COMPRESSIBLE:
        raise PolicyError(f"{relation}: compression is configured only for {', '.join(sorted(COMPRESSIBLE))}")
    if drop_after is not None and compress_after >= drop_after:
        raise PolicyError(
            f"{relation}: compress-after ({format_duration(compress_after)}) must be shorter than "
            f"drop-after ({format_duration(drop_after)}): data would be dropped before it is compressed"
        )


def _sync_job(conn: psycopg.Connection, relation: str, kind: str, current: tuple[int, timedelta] | None,
              value: timedelta | None) -> None:
    """Make one retention/compression job match ``value``: alter it, add it, or remove it."""
    if (current[1] if current else None) == value:
        return
    key = "drop_after" if kind == "retention" else "compress_after"
    if current is not None and value is not None:
        # keep the job (its id, schedule and run history); alter_job validates the new config
        conn.execute(
            "SELECT alter_job(%s, config => config || jsonb_build_object(%s::text, %s::interval::text)) "
            "FROM timescaledb_information.jobs WHERE job_id = %s",
            (current[0], key, value, current[0]),
        )
    elif current is not None:
        conn.execute(f"SELECT remove_{kind}_policy(%s::regclass, if_exists => true)", (relation,))
    else:
        conn.execute(f"SELECT add_{kind}_policy(%s::regclass, {key} => %s::interval)", (relation, value))


def _sync_jobs(conn: psycopg.Connection, relation: str, drop_after: timedelta | None,
               compress_after: timedelta | None) -> None:
    """Make the TimescaleDB retention/compression jobs of ``relation`` match the given values."""
    jobs = _jobs(conn)
    _sync_job(conn, relation, "retention", jobs.get((relation, "retention")), drop_after)
    if relation in COMPRESSIBLE:
        _sync_job(conn, relation, "compression", jobs.get((relation, "compression")), compress_after)


def set_policy(
    conn: psycopg.Connection,
    relation: str,
    *,
    drop_after: timedelta | _Keep | None = KEEP,
    compress_after: timedelta | _Keep | None = KEEP,
) -> Policy:
    """Change the policy of ``relation`` (``KEEP`` leaves a part unchanged) and enforce it.

    The catalogue row and, on TimescaleDB, the jobs are changed in one transaction: either
    both change or neither does. Returns the policy as it now stands.
    """
    backend = _backend(conn)
    if relation not in RELATIONS:
        raise PolicyError(f"unknown relation {relation!r}: choose one of {', '.join(RELATIONS)}")
    with conn.transaction():
        row = conn.execute(
            "SELECT drop_after, compress_after FROM retention_policies WHERE relation = %s FOR UPDATE", (relation,)
        ).fetchone()
        old_drop, old_compress = row if row else (None, None)
        new_drop = old_drop if isinstance(drop_after, _Keep) else drop_after
        new_compress = old_compress if isinstance(compress_after, _Keep) else compress_after
        validate_policy(backend, relation, new_drop, new_compress)
        conn.execute(
            """
            INSERT INTO retention_policies (relation, drop_after, compress_after)
            VALUES (%(rel)s, %(drop)s, %(compress)s)
            ON CONFLICT (relation) DO UPDATE SET drop_after = EXCLUDED.drop_after,
                compress_after = EXCLUDED.compress_after, updated_at = now(), updated_by = current_user
            """,
            {"rel": relation, "drop": new_drop, "compress": new_compress},
        )
        if backend == "timescaledb":
            _sync_jobs(conn, relation, new_drop, new_compress)
    return next(p for p in show_policies(conn) if p.relation == relation)


def seed_policies(conn: psycopg.Connection, settings: Settings) -> list[Policy]:
    """Insert the configured default policies where none exist yet, then enforce the catalogue.

    Called by ``heliosgrid db migrate``. Rows the DBA changed are kept as they are (settings
    only seed new rows); on TimescaleDB the retention/compression jobs are then registered or
    corrected from the catalogue, so re-running migrate restores exactly what the DBA set.
    """
    backend = _backend(conn)
    day = timedelta(days=1)

    def days(n: int | None) -> timedelta | None:
        return None if n is None else n * day

    defaults: dict[str, tuple[timedelta | None, timedelta | None]] = {
        "readings": (
            days(settings.retention_raw_days),
            days(settings.compress_raw_after_days) if backend == "timescaledb" else None,
        ),
        "readings_15m": (days(settings.retention_15m_days), None),
        "readings_1h": (days(settings.retention_1h_days), None),
        "readings_1d": (days(settings.retention_1d_days), None),
    }
    for relation, (drop_after, compress_after) in defaults.items():
        validate_policy(backend, relation, drop_after, compress_after)
    with conn.transaction():
        for relation, (drop_after, compress_after) in defaults.items():
            conn.execute(
                "INSERT INTO retention_policies(relation, drop_after, compress_after, updated_by) "
                "VALUES (%s, %s, %s, 'heliosgrid db migrate (settings)') ON CONFLICT (relation) DO NOTHING",
                (relation, drop_after, compress_after),
            )
        if backend == "timescaledb":
            for policy in show_policies(conn):
                if not policy.in_sync:
                    _sync_jobs(conn, policy.relation, policy.drop_after, policy.compress_after)
    return show_policies(conn)
