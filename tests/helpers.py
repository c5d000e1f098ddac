"""Plain helper functions for tests (no fixtures; those live in ``tests/conftest.py``).

Import them as ``from tests.helpers import free_port, wait_port, db_url, stop_process``: pytest puts the
repository root on ``sys.path`` (``pythonpath = ["."]`` in pyproject.toml), so this is one real
module, unlike ``conftest`` (several conftest.py files are imported under that one name).
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout_s: float = 30.0) -> None:
    """Block until something accepts TCP connections on ``host:port``; TimeoutError after ``timeout_s`` (s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s}s")


def db_url(server_url: str, dbname: str) -> str:
    """``server_url`` with its database name replaced by ``dbname``."""
    return server_url.rsplit("/", 1)[0] + "/" + dbname


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Terminate a server process the test started; kill it if it has not exited after ``timeout_s`` (s)."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for_policy_jobs(conn: Any, timeout_s: float = 60.0, job_ids: list[int] | None = None) -> None:
    """Block until every scheduled TimescaleDB policy job has finished a run since it was (re)created.

    A policy job runs about a second after ``add_*_policy`` creates it; tests that then write
    old timestamps wait here so that the first run cannot race their rows (the next run is one
    ``schedule_interval`` later). ``job_ids`` restricts the wait to those jobs. A no-op on PGlite
    (no background workers). ``conn`` must be in autocommit mode; TimeoutError after ``timeout_s``.
    """
    row = conn.execute(
        "SELECT position('Emscripten' IN version()) > 0 OR to_regclass('timescaledb_information.jobs') IS NULL"
    ).fetchone()
    if row and row[0]:
        return
    deadline = time.monotonic() + timeout_s
    pending: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        pending = conn.execute(
            """
            SELECT j.job_id, j.proc_name FROM timescaledb_information.jobs j
            LEFT JOIN timescaledb_information.job_stats s USING (job_id)
            WHERE j.proc_name LIKE 'policy\\_%%' AND j.hypertable_name IS NOT NULL AND j.scheduled
              AND (%s::int[] IS NULL OR j.job_id = ANY(%s::int[]))
              AND (coalesce(s.total_runs, 0) = 0 OR s.job_status = 'Running')
            """,
            (job_ids, job_ids),
        ).fetchall()
        if not pending:
            return
        time.sleep(0.2)
    raise TimeoutError(f"TimescaleDB policy jobs did not run within {timeout_s}s: {pending}")
