"""What stack operations report: :class:`StackError`, :class:`ComponentStatus`, :class:`UpResult`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class StackError(RuntimeError):
    """A stack operation failed; the message names the component and its log file."""

    def __init__(self, message: str, component: str | None = None, log_file: Path | None = None) -> None:
        super().__init__(message)
        self.component = component
        self.log_file = log_file


@dataclass(frozen=True)
class ComponentStatus:
    """State of one component as ``heliosgrid status`` shows it.

    ``state`` is ``running``, ``stopped`` (recorded but its process is gone), ``done`` (task
    finished with exit 0), ``failed`` (task exited non-zero), ``external`` (inline step that
    started nothing of ours) or ``not started``. ``healthy`` is the result of the health check
    run now (None when not applicable or not running).
    """

    name: str
    kind: str
    state: str
    pid: int | None
    healthy: bool | None
    reason: str | None
    log_file: str
    started_at: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did: ``already_running`` is True when nothing had to be started."""

    already_running: bool
    started: list[str]
    addresses: list[tuple[str, str]]
