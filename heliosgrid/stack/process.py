"""Process identity, liveness and stopping for the local stack supervisor (Linux).

A pid alone is not an identity: after a process exits the kernel may hand its pid to an
unrelated process. Every process the supervisor records is therefore identified by its pid
*and* its start time (``/proc/<pid>/stat`` field 22, in clock ticks since boot); a pid whose
start time differs from the recorded one is treated as gone and is never signalled.

Processes started by the supervisor lead their own session (``start_new_session=True``), so
their process group id equals their pid and stopping the group also stops the children they
forked (uvicorn or Airflow workers); descendants that started a session of their own (Airflow's task
supervisor) are followed by their parent links and stopped after the group. Adopted processes (the
embedded PostgreSQL postmaster) are signalled alone: they stop their own children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


def _read_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, or None if the pid does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    return raw[raw.rfind(")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None if it does not exist."""
    fields = _read_stat(pid)
    if fields is None:
        return None
    return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)


def _reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is our own child (avoids counting zombies)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if given, started at ``start_ticks``."""
    if pid <= 0:
        return False
    _reap(pid)
    fields = _read_stat(pid)
    if fields is None:
        return False
    if fields[0] in ("Z", "X"):
        return False
    return start_ticks is None or int(fields[19]) == start_ticks


def group_alive(pgid: int) -> bool:
    """True when at least one live (non-zombie) process belongs to process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg succeeds on zombies too: look for one member that is really running.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _read_stat(int(entry.name))
        if fields is not None and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def descendants(pid: int) -> set[tuple[int, int]]:
    """(pid, start ticks) of every live descendant of ``pid`` by parent links in ``/proc`` (itself excluded),
    whatever their process group: a child that started its own session (Airflow's task supervisor) is one."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _read_stat(int(entry.name))
            if fields is not None and fields[0] not in ("Z", "X"):
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    out: set[tuple[int, int]] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            ticks = process_start_ticks(child)
            if ticks is not None and (child, ticks) not in out:
                out.add((child, ticks))
                todo.append(child)
    return out


def stop_strays(family: set[tuple[int, int]], sig: int, timeout_s: float = 10.0, poll_s: float = 0.1) -> None:
    """Stop the still-running members of ``family`` ((pid, start ticks), e.g. from :func:`descendants`): ``sig``,
    then SIGKILL after ``timeout_s``. A pid that now belongs to another process (other start time) is left alone."""
    def running() -> list[int]:
        return [pid for pid, ticks in family if pid_alive(pid, ticks)]

    for pid in running():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while running() and time.monotonic() < deadline:
        time.sleep(poll_s)
    for pid in running():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class ProcessRef:
    """A process recorded by the supervisor.

    ``group`` is True when the process leads its own process group (started by the supervisor);
    stopping then signals the whole group. ``stop_signal`` is the polite signal (SIGTERM, or
    SIGINT for PostgreSQL's fast shutdown).
    """

    pid: int
    start_ticks: int | None
    group: bool = True
    stop_signal: int = int(signal.SIGTERM)

    def alive(self) -> bool:
        """True while the recorded process itself runs."""
        return pid_alive(self.pid, self.start_ticks)

    def _group_running(self) -> bool:
        """True while any member of the group runs; only meaningful right after we signalled
        a verified leader (a pid in use as a group id is never reused by the kernel)."""
        return self.alive() or (self.group and group_alive(self.pid))

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)

    def stop(self, timeout_s: float = 20.0, poll_s: float = 0.1, repeat_after_s: float | None = None) -> str:
        """Stop politely, then with SIGKILL after ``timeout_s``; return how it ended.

        ``repeat_after_s`` sends the polite signal once more after that many seconds (Airflow's
        scheduler waits for running tasks after the first SIGTERM and stops at the second).

        Returns ``"not running"``, ``"stopped"`` (exited after the polite signal) or ``"killed"``.
        Nothing is signalled when the recorded process no longer exists with the recorded
        start time (its pid may belong to someone else by now).
        """
        if not self.alive():
            return "not running"
        # Descendants that left the group (their own session) are followed by parent links while the
        # leader lives, and stopped after it: two Airflow task processes outlived `make down` by ≈ 90 s.
        family = descendants(self.pid) if self.group else set()
        self._signal(self.stop_signal)
        start = time.monotonic()
        deadline = start + timeout_s
        repeated = repeat_after_s is None
        outcome = "killed"
        while time.monotonic() < deadline:
            if self.group and self.alive():
                family |= descendants(self.pid)
            if not self._group_running():
                outcome = "stopped"
                break
            if not repeated and time.monotonic() - start >= (repeat_after_s or 0.0):
                self._signal(self.stop_signal)
                repeated = True
            time.sleep(poll_s)
        if outcome == "killed":
            self._signal(signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and self._group_running():
                time.sleep(poll_s)
        stop_strays(family, self.stop_signal, timeout_s=min(timeout_s, 10.0), poll_s=poll_s)
        return outcome
