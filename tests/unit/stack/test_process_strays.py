"""Stopping a component also stops the descendants that left its process group (their own session), as
Airflow's task supervisor does: two such task processes outlived `make down` by ≈ 90 s."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from heliosgrid.stack.process import ProcessRef, descendants, pid_alive, process_start_ticks

LEADER = (
    "import subprocess, sys, time\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
    "open(sys.argv[1], 'w').write(str(p.pid))\n"
    "time.sleep(120)\n"
)


def _wait_for(path: Path, timeout_s: float = 20.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError("the leader never wrote its child's pid")


def test_a_child_in_its_own_session_is_stopped_with_its_leader(tmp_path: Path) -> None:
    leader = subprocess.Popen([sys.executable, "-c", LEADER, str(tmp_path / "child.pid")], start_new_session=True)
    child = _wait_for(tmp_path / "child.pid")
    try:
        assert os.getpgid(child) != leader.pid  # not in the group: a group signal misses it
        ticks = process_start_ticks(child)
        assert (child, ticks) in descendants(leader.pid)
        assert ProcessRef(leader.pid, process_start_ticks(leader.pid)).stop(timeout_s=5.0) == "stopped"
        leader.wait(timeout=5)
        assert not pid_alive(child, ticks)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
