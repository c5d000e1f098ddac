"""Declarative component specs and the context shared while the stack starts.

A stack is an ordered list of :class:`ComponentSpec`; the supervisor starts them in that order
and waits for each one's health check. Adding a component is one more spec in the list (see
:mod:`heliosgrid.stack.components`).

Three kinds:

* ``service`` — a long-running process started detached (own session), pid recorded, health
  waited for, stopped by ``down``;
* ``task`` — a one-shot command that must exit 0 within ``start_timeout_s`` (migrations, fleet
  sync);
* ``inline`` — a Python function run inside the supervisor (create topics, resolve the database);
  it may return a :class:`~heliosgrid.stack.process.ProcessRef` of a process it caused to start
  (the embedded PostgreSQL), which is then recorded and stopped by ``down`` like a service.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from heliosgrid.stack.health import HealthCheck
from heliosgrid.stack.process import ProcessRef

Kind = Literal["service", "task", "inline"]


class DataDirLayout:
    """The run and log directories below a stack's data directory (``self.data_dir``)."""

    data_dir: Path

    @property
    def run_dir(self) -> Path:
        """Pid files and ``stack.json``."""
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        """One ``<component>.log`` per component."""
        return self.data_dir / "logs"


@dataclass
class StackContext(DataDirLayout):
    """What components learn about each other while the stack starts.

    ``env`` is added to every child's environment (e.g. ``HELIOS_DATABASE_URL`` once the
    database is resolved, so no child resolves or starts a database on its own). ``info`` holds
    facts for the printed addresses (API key, Airflow password). Both are persisted in the run
    directory's ``stack.json`` (mode 0600) so that ``restart`` uses the same values.
    """

    data_dir: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    started_at: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str | None:
        """The database every component uses, once resolved."""
        return self.env.get("HELIOS_DATABASE_URL")

    def component_started_at(self, name: str) -> datetime:
        """When ``name`` was last (re)started (UTC); epoch if never."""
        raw = self.started_at.get(name)
        return datetime.fromisoformat(raw) if raw else datetime.fromtimestamp(0, UTC)


EnvFn = Callable[[StackContext], Mapping[str, str]]
ArgvFn = Callable[[StackContext], Sequence[str]]
InlineFn = Callable[[StackContext], ProcessRef | None]
HookFn = Callable[[StackContext], None]
AddressFn = Callable[[StackContext], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class ComponentSpec:
    """One component of the stack.

    ``argv`` (service/task) may be a list or a function of the context, evaluated just before
    the start. ``health`` is waited for up to ``start_timeout_s`` seconds (services); a service
    without a health check must stay alive for ``min_uptime_s`` seconds. ``after_healthy`` runs
    once the component is healthy (create topics, create an API key); if it raises, the
    component counts as failed. ``stop_signal`` is sent first on stop, SIGKILL after
    ``stop_timeout_s`` seconds; ``stop_repeat_after_s`` repeats the polite signal once.
    """

    name: str
    kind: Kind = "service"
    argv: Sequence[str] | ArgvFn = ()
    run: InlineFn | None = None
    env: Mapping[str, str] | EnvFn = field(default_factory=dict)
    health: HealthCheck | None = None
    depends_on: tuple[str, ...] = ()
    start_timeout_s: float = 60.0
    min_uptime_s: float = 2.0
    stop_signal: int = int(signal.SIGTERM)
    stop_timeout_s: float = 20.0
    stop_repeat_after_s: float | None = None
    after_healthy: HookFn | None = None
    addresses: AddressFn | None = None
    description: str = ""

    def resolve_argv(self, ctx: StackContext) -> list[str]:
        """The command line for this start."""
        argv = self.argv(ctx) if callable(self.argv) else self.argv
        return [str(a) for a in argv]

    def resolve_env(self, ctx: StackContext) -> dict[str, str]:
        """Environment additions specific to this component."""
        env = self.env(ctx) if callable(self.env) else self.env
        return {str(k): str(v) for k, v in env.items()}


def validate_specs(specs: Sequence[ComponentSpec]) -> None:
    """Check names are unique and safe for file names, and dependencies come earlier."""
    seen: set[str] = set()
    for spec in specs:
        if not spec.name or not all(c.isalnum() or c in "-_" for c in spec.name):
            raise ValueError(f"component name {spec.name!r} must be letters, digits, '-' or '_'")
        if spec.name in seen:
            raise ValueError(f"component {spec.name!r} is declared twice")
        missing = [d for d in spec.depends_on if d not in seen]
        if missing:
            raise ValueError(f"component {spec.name!r} depends on {missing} which are not declared before it")
        if spec.kind == "inline" and spec.run is None:
            raise ValueError(f"inline component {spec.name!r} needs run=")
        if spec.kind in ("service", "task") and not spec.argv:
            raise ValueError(f"{spec.kind} component {spec.name!r} needs argv=")
        seen.add(spec.name)
