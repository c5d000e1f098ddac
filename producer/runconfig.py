"""What a producer run does: :class:`RunConfig` (source, pace, delivery) and its resumable identity."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from heliosgrid.physics import SiteSpec
from heliosgrid.simulation.noise import REALISTIC, NoiseProfile


class ProducerError(RuntimeError):
    """A user-facing failure of the producer (printed as one line, non-zero exit)."""


@dataclass
class RunConfig:
    """What to produce and how fast. Timestamps are tz-aware UTC."""

    mode: Literal["realtime", "backfill", "replay"]
    topic: str
    bootstrap_servers: str
    start: pd.Timestamp
    end: pd.Timestamp | None = None
    speed: float = math.inf
    freq: str = "1min"
    seed: int = 42
    faults: Literal["none", "random"] = "none"
    fault_rate_per_device_month: float = 1.0
    bad_rate: float = 0.0
    database_url: str | None = None
    checkpoint: Path | None = None
    labels_dir: Path | None = None
    progress: bool = False
    max_messages: int | None = None
    partitions: int = 3
    linger_ms: int = 20
    heartbeat_interval_s: float = 30.0
    metrics_port: int = 0
    """Serve Prometheus ``/metrics`` on 127.0.0.1:<port>; 0 = off."""
    replay_frame: pd.DataFrame | None = None
    """Replay mode: readings to send (already time-shifted)."""
    noise: NoiseProfile | None = REALISTIC
    """Simulated modes: measurement noise and per-device intervals (``HELIOS_SIM_*``); None = exact physics."""

    def run_key(self, fleet: Sequence[SiteSpec], database: str | None = None) -> str:
        """Identity of a resumable run: a checkpoint only applies to the same run *into the same
        database* (``database`` = :func:`database_identity`), so a new, empty database gets its
        history again instead of resuming where another database's run stopped."""
        parts: dict[str, Any] = {
            "mode": self.mode, "seed": self.seed, "freq": self.freq, "faults": self.faults,
            "noise": repr(self.noise),
            "devices": sorted(d.device_id for s in fleet for d in s.devices), "topic": self.topic,
        }
        if database is not None:
            parts["database"] = database
        if self.mode != "realtime":
            parts.update(start=self.start.isoformat(), end=self.end.isoformat() if self.end is not None else None)
        if self.replay_frame is not None:  # which readings: two CSV replays (no fleet) of other devices or data differ
            frame = self.replay_frame
            parts["replay_rows"] = len(frame)
            parts["replay_devices"] = sorted(frame["device_id"].unique().tolist()) if len(frame) else []
            parts["replay_content"] = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy()
                                                     .tobytes()).hexdigest()[:16]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
