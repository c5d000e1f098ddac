"""Embedded PostgreSQL for machines without a database server (``pgserver`` wheel)."""

from __future__ import annotations

import atexit
import os
import signal
import time
from pathlib import Path


def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) an embedded PostgreSQL in ``pgdata`` and return its server URL.

    The server keeps running after this process exits (``cleanup_mode=None``) so that every
    component of the local stack shares it; ``heliosgrid stack down`` stops it.
    """
    import pgserver  # imported lazily: only needed when no server is reachable

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata.resolve()), cleanup_mode=None)
    # With cleanup_mode=None pgserver's exit hook only logs bookkeeping (and does so after logging
    # streams may be closed, printing "Logging error"): nothing to clean up, so drop it.
    atexit.unregister(server._cleanup)
    uri: str = server.get_uri()
    return uri


def stop_embedded(pgdata: Path, timeout_s: float = 30.0) -> bool:
    """Stop the embedded PostgreSQL running in ``pgdata`` (fast shutdown: SIGINT to the postmaster).

    Signals the PID recorded in ``postmaster.pid`` (works also when pgserver runs the server as
    its own system user because we are root). Returns True when a server was stopped, False
    when none was running there; raises RuntimeError if it does not stop within ``timeout_s``.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    raise RuntimeError(f"the embedded PostgreSQL in {pgdata} (pid {pid}) did not stop within {timeout_s:.0f} s")
