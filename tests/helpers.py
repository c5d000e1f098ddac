"""Plain helper functions for tests (no fixtures; those live in ``tests/conftest.py``).

Import them as ``from tests.helpers import free_port, wait_port, db_url, stop_process``: pytest puts the
repository root on ``sys.path`` (``pythonpath = ["."]`` in pyproject.toml), so this is one real
module, unlike ``conftest`` (several conftest.py files are imported under that one name).
"""

from __future__ import annotations

import socket
import subprocess
import time


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
