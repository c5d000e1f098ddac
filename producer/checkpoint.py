"""The producer's resume checkpoint and run statistics.

After each flush the producer records the timestamp of the oldest reading that may not be durable
yet; a restart resumes there (a crash re-sends, which is harmless — the consumer upserts on
(device_id, ts) — and never leaves a gap). A checkpoint applies only to the same run into the same
database (:func:`database_identity`, migration 0095), so a new database gets its history again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg

from heliosgrid.db.connection import DatabaseUnavailable, open_connection
from heliosgrid.settings import redact_url

log = logging.getLogger("heliosgrid.producer")

EXIT_OK = 0
EXIT_DELIVERY_FAILED = 1


@dataclass
class RunStats:
    """What a run did."""

    good_sent: int = 0
    extra_sent: int = 0
    """Bad-traffic messages and duplicate re-sends."""
    bad_by_kind: dict[str, int] = field(default_factory=dict)
    delivery_errors: int = 0
    first_ts: pd.Timestamp | None = None
    last_ts_ns: int | None = None
    """Sensor time of the newest reading sent, ns since the epoch (see :attr:`last_ts`)."""
    fault_events: int = 0
    exit_code: int = EXIT_OK
    stopped_by_signal: bool = False

    @property
    def last_ts(self) -> pd.Timestamp | None:
        """Sensor time of the newest reading sent (UTC)."""
        return None if self.last_ts_ns is None else pd.Timestamp(self.last_ts_ns, tz="UTC")


def read_checkpoint(path: Path | None, run_key: str) -> pd.Timestamp | None:
    """The resume timestamp stored for ``run_key`` at ``path`` (None if absent or another run's)."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("run_key") != run_key:
            return None
        return pd.Timestamp(data["next_ts"]).tz_convert("UTC")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
        return None


def write_checkpoint(path: Path, run_key: str, next_ts: pd.Timestamp, stats: RunStats) -> None:
    """Atomically record that every reading before ``next_ts`` is durably in the topic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(
        json.dumps({"run_key": run_key, "next_ts": next_ts.isoformat(), "good_sent": stats.good_sent,
                    "written_at": datetime.now(UTC).isoformat()}),
        encoding="utf-8",
    )
    tmp.replace(path)


def database_identity(url: str) -> str | None:
    """``helios_instance.instance_id`` of the database at ``url`` (migration 0095): different for
    another database and for a dropped and re-created one. None when the database is unreachable
    or not migrated (the checkpoint then applies to no database-keyed run: the history is re-sent,
    which is harmless — the consumer upserts)."""
    try:
        with open_connection(url, autocommit=True, connect_timeout_s=10) as conn:
            row = conn.execute("SELECT instance_id::text FROM helios_instance").fetchone()
    except (DatabaseUnavailable, psycopg.Error) as exc:
        log.warning("database identity unknown (%s); not resuming a checkpoint", redact_url(str(exc)).strip())
        return None
    return None if row is None else str(row[0])
