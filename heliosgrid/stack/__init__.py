"""Local process supervisor: ``make up`` / ``make down`` / ``heliosgrid status``.

* :class:`Supervisor` starts a declarative list of :class:`ComponentSpec` in order with health
  waits, pid files and one log per component, and stops exactly what it started.
* :func:`heliosgrid_specs` is the HeliosGrid stack (broker → database → migrate → fleet sync →
  consumer → producer → API → Airflow).
* :func:`restart` and :func:`component_status` are what the stream-supervision DAG calls.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from heliosgrid.settings import Settings, get_settings
from heliosgrid.stack.components import REPO_ROOT, heliosgrid_specs, stack_env
from heliosgrid.stack.health import HeartbeatFresh, HttpOk, PortOpen
from heliosgrid.stack.process import ProcessRef
from heliosgrid.stack.spec import ComponentSpec, StackContext
from heliosgrid.stack.supervisor import ComponentStatus, StackError, Supervisor, UpResult

__all__ = [
    "ComponentSpec", "ComponentStatus", "HeartbeatFresh", "HttpOk", "PortOpen", "ProcessRef", "StackContext",
    "StackError", "Supervisor", "UpResult", "component_status", "default_supervisor", "heliosgrid_specs",
    "restart",
]


def default_supervisor(settings: Settings | None = None, echo: Callable[[str], None] = print) -> Supervisor:
    """The supervisor of the HeliosGrid stack under ``Settings.data_dir``.

    A relative ``data_dir`` (default ``.helios``) is taken relative to the current directory;
    the stack passes the absolute path to every child as ``HELIOS_DATA_DIR``, so Airflow tasks
    calling :func:`restart` find the same run directory. Children run in the repository root.
    """
    settings = settings or get_settings()
    data_dir = Path(settings.data_dir).resolve()
    return Supervisor(heliosgrid_specs(settings), data_dir, base_env=stack_env(settings, data_dir), cwd=REPO_ROOT,
                      echo=echo)


def restart(component: str, settings: Settings | None = None) -> ComponentStatus:
    """Restart one local service of the running stack (e.g. ``"consumer"``) and wait for its health.

    Raises :class:`StackError` with a clear message if the component is unknown, the stack is
    not running, or the component does not become healthy (its log file is named).
    """
    return default_supervisor(settings, echo=lambda _line: None).restart(component)


def component_status(settings: Settings | None = None, *, check_health: bool = True) -> list[ComponentStatus]:
    """State of every component of the local stack (running/stopped/done/…, pid, health)."""
    return default_supervisor(settings, echo=lambda _line: None).component_status(check_health=check_health)
