"""Ground truth of injected faults: the ``fault_events`` table and a JSON-lines labels file.

Both are idempotent and keyed on ``(device_id, fault_type, started_at)`` (the table's unique
constraint): writing the same events again — after a restart, or by a second producer with
the same seed — updates them in place and never duplicates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

LABELS_FILE = "fault_events.jsonl"

_UPSERT = """
INSERT INTO fault_events (site_id, device_id, fault_type, started_at, ended_at, params, source, energy_lost_kwh)
VALUES (%s, %s, %s, %s, %s, %s::jsonb, 'simulator', %s)
ON CONFLICT (device_id, fault_type, started_at) DO UPDATE SET
    site_id = EXCLUDED.site_id, ended_at = EXCLUDED.ended_at, params = EXCLUDED.params,
    source = EXCLUDED.source, energy_lost_kwh = EXCLUDED.energy_lost_kwh
"""


def _records(faults: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in faults.to_dict("records"):
        out.append(
            {
                "site_id": str(row["site_id"]),
                "device_id": str(row["device_id"]),
                "fault_type": str(row["fault_type"]),
                "started_at": pd.Timestamp(row["started_at"]).tz_convert("UTC").isoformat(),
                "ended_at": pd.Timestamp(row["ended_at"]).tz_convert("UTC").isoformat(),
                "params": dict(row["params"]),
                "energy_lost_kwh": float(row["energy_lost_kwh"]),
            }
        )
    return out


def write_fault_events(conn: psycopg.Connection[Any], faults: pd.DataFrame) -> int:
    """Upsert ground-truth rows (columns of ``SimulationResult.faults``); returns the count."""
    rows = _records(faults)
    if not rows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            _UPSERT,
            [
                (r["site_id"], r["device_id"], r["fault_type"], r["started_at"], r["ended_at"],
                 json.dumps(r["params"]), r["energy_lost_kwh"])
                for r in rows
            ],
        )
    return len(rows)


def write_labels(directory: Path, faults: pd.DataFrame) -> Path:
    """Merge ``faults`` into ``<directory>/fault_events.jsonl`` (one JSON object per event,
    sorted by start time); rewritten atomically. Returns the file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LABELS_FILE
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                merged[(rec["device_id"], rec["fault_type"], rec["started_at"])] = rec
    for rec in _records(faults):
        merged[(rec["device_id"], rec["fault_type"], rec["started_at"])] = rec
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in sorted(merged.values(), key=lambda r: (r["started_at"], r["device_id"], r["fault_type"])):
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
    tmp.replace(path)
    return path
