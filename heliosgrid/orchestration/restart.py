"""Who restarts a dead producer/consumer: the interface the stream-supervision DAG talks to.

Stream supervision (:mod:`heliosgrid.orchestration.supervision`) judges heartbeats and lag; what
happens to an unhealthy component depends on where HeliosGrid runs, behind :class:`Restarter`:

* :class:`LocalProcesses` — the local stack (``make up``): restarts the component's process if
  it is ``stopped``/``failed``, through the stack's public functions ``component_status`` and
  ``restart`` (:mod:`heliosgrid.stack`, imported only when this adapter is used);
* :class:`OrchestratorRestartPolicy` — docker compose (``restart: unless-stopped``) or
  Kubernetes (``restartPolicy``/liveness probes) restart containers themselves; supervision only
  reports (alerts).

:func:`restarter_for` picks one from ``Settings.supervision_restarter`` (``auto``: local when a
local stack is recorded under ``HELIOS_DATA_DIR``, else the orchestrator policy).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from heliosgrid.settings import Settings

log = logging.getLogger(__name__)

RESTARTABLE_STATES = ("stopped", "failed")


class Restarter(Protocol):
    """Restarts unhealthy stream components, or declines because something else does."""

    deployment: str
    """``local`` or ``orchestrator`` (recorded in the alerts' evidence)."""

    def restartable(self, unhealthy: Sequence[str]) -> list[str]:
        """The subset of ``unhealthy`` this restarter will restart now."""
        ...

    def restart(self, component: str) -> None:
        """Restart ``component`` and wait for it; raises with a clear message on failure."""
        ...


class OrchestratorRestartPolicy:
    """compose / Kubernetes: the orchestrator's restart policy restarts containers; report only."""

    deployment = "orchestrator"

    def restartable(self, unhealthy: Sequence[str]) -> list[str]:
        """Nothing: restarting containers is the orchestrator's job."""
        return []

    def restart(self, component: str) -> None:
        """Never called (``restartable`` is empty); refuses loudly if it is."""
        raise RuntimeError(f"{component}: restarts are left to the orchestrator's restart policy")


def components_to_restart(statuses: Sequence[Any], unhealthy: Sequence[str]) -> list[str]:
    """Unhealthy components whose local process is ``stopped`` or ``failed`` (restartable).

    ``statuses`` carry ``name`` and ``state`` (the local stack's component statuses).
    """
    by_name = {s.name: s for s in statuses}
    return [c for c in unhealthy if c in by_name and by_name[c].state in RESTARTABLE_STATES]


class LocalProcesses:
    """The local stack's processes, through :func:`heliosgrid.stack.component_status` and
    :func:`heliosgrid.stack.restart`."""

    deployment = "local"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def statuses(self) -> list[Any]:
        """Component statuses of the local stack; [] when none is recorded under the data dir."""
        from heliosgrid.stack import component_status

        statuses = component_status(self._settings, check_health=False)
        return [] if all(s.state == "not started" for s in statuses) else statuses

    def restartable(self, unhealthy: Sequence[str]) -> list[str]:
        """Unhealthy components whose recorded process is stopped or failed."""
        return components_to_restart(self.statuses(), unhealthy) if unhealthy else []

    def restart(self, component: str) -> None:
        """Restart one component and wait for its health check."""
        from heliosgrid.stack import restart

        restart(component, self._settings)


def restarter_for(settings: Settings) -> Restarter:
    """The restarter of this deployment (``Settings.supervision_restarter``; see module docstring)."""
    choice = settings.supervision_restarter
    if choice == "orchestrator":
        return OrchestratorRestartPolicy()
    local = LocalProcesses(settings)
    if choice == "local":
        return local
    try:
        return local if local.statuses() else OrchestratorRestartPolicy()
    except (OSError, ValueError, RuntimeError) as exc:  # unreadable run directory: nothing local to restart
        log.warning("local stack status unavailable (%s); leaving restarts to the orchestrator", exc)
        return OrchestratorRestartPolicy()
