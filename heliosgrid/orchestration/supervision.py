"""Stream supervision: producer/consumer heartbeats, consumer-group lag, local restarts.

:func:`supervise_stream` is what the ``heliosgrid_stream_supervision`` DAG runs every 5 minutes:

1. **Heartbeats** — for each expected component (``producer``, ``consumer``) the newest
   ``heartbeats.last_beat_at`` over its instances, aged at ``as_of``; older than
   ``Settings.heartbeat_max_age_s`` (or no row at all) is *unhealthy*.
2. **Lag** — messages not yet consumed by the consumer group on the readings topic
   (high watermark − committed offset, summed over partitions; a partition without a committed
   offset counts in full), read with :func:`heliosgrid.status.consumer_lag` under bounded
   broker timeouts. Above ``Settings.consumer_lag_max_messages`` is *unhealthy*; an unreachable
   broker is reported as ``broker_unreachable``.
3. **Restart** — through a :class:`~heliosgrid.orchestration.restart.Restarter`: on the local
   stack (``make up``) an unhealthy component whose process is ``stopped`` or ``failed`` is
   restarted; in a compose/Kubernetes deployment the orchestrator's restart policy restarts
   containers and supervision only reports (alerts).

Each finding is a ``pipeline`` alert (site ``_pipeline``, device = component, fault types
``heartbeat_stale``, ``consumer_lag``, ``broker_unreachable``), auto-resolved when healthy again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from heliosgrid.alerts import raise_alert, resolve_absent
from heliosgrid.orchestration.dagkit import PIPELINE_SITE_ID
from heliosgrid.orchestration.restart import Restarter, restarter_for
from heliosgrid.settings import Settings

log = logging.getLogger(__name__)

EXPECTED_COMPONENTS = ("producer", "consumer")
FAULT_TYPES = ("heartbeat_stale", "consumer_lag", "broker_unreachable")


class LagUnavailable(RuntimeError):
    """The broker could not be asked for the group's offsets (message says why)."""


@dataclass(frozen=True)
class HeartbeatState:
    """Newest heartbeat of one component: age in seconds at ``as_of`` (None = never beat)."""

    component: str
    instances: int
    newest_beat_at: datetime | None
    age_s: float | None
    status: str | None
    healthy: bool


@dataclass
class SupervisionReport:
    """What one supervision pass saw and did."""

    as_of: datetime
    heartbeats: list[HeartbeatState] = field(default_factory=list)
    lag_messages: int | None = None
    lag_error: str | None = None
    restarted: list[str] = field(default_factory=list)
    restart_errors: dict[str, str] = field(default_factory=dict)
    deployment: str = "orchestrator"
    alerts_raised: int = 0
    alerts_resolved: int = 0

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (XCom)."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        for hb in out["heartbeats"]:
            hb["newest_beat_at"] = hb["newest_beat_at"].isoformat() if hb["newest_beat_at"] else None
        return out


def heartbeat_states(conn: psycopg.Connection, as_of: datetime, max_age_s: float,
                     components: Sequence[str] = EXPECTED_COMPONENTS) -> list[HeartbeatState]:
    """The newest heartbeat of each of ``components`` judged at ``as_of`` (age clamped at ≥ 0)."""
    rows = conn.execute(
        """
        SELECT c.component, count(h.instance), max(h.last_beat_at),
               (array_agg(h.status ORDER BY h.last_beat_at DESC))[1]
        FROM unnest(%s::text[]) AS c(component)
        LEFT JOIN heartbeats h ON h.component = c.component
        GROUP BY c.component ORDER BY c.component
        """,
        (list(components),),
    ).fetchall()
    out = []
    for component, instances, newest, status in rows:
        age = None if newest is None else max(0.0, (as_of - newest).total_seconds())
        healthy = age is not None and age <= max_age_s and status not in ("failed", "stopping")
        out.append(HeartbeatState(component, int(instances), newest, age, status, healthy))
    return out


def consumer_lag(bootstrap_servers: str, group_id: str, topic: str) -> int:
    """Messages on ``topic`` not yet committed by ``group_id`` (sum over partitions).

    Uses the project's one lag reader, :func:`heliosgrid.status.consumer_lag` (high watermark
    from a Fetch, right on Tansu too — ADR 0027; bounded broker timeouts). Raises
    :class:`LagUnavailable` when the broker cannot be reached or the topic is unknown.
    """
    from kafka.errors import KafkaError

    from heliosgrid.status import consumer_lag as lag_report

    try:
        return int(lag_report(bootstrap_servers, group_id, topic)["total_lag"])
    except (KafkaError, OSError, LookupError) as exc:
        raise LagUnavailable(f"broker {bootstrap_servers}: {type(exc).__name__}: {exc}") from None


def _restart(report: SupervisionReport, restarter: Restarter, unhealthy: Sequence[str]) -> None:
    """Restart what ``restarter`` takes on; each outcome is recorded in ``report``."""
    report.deployment = restarter.deployment
    for component in restarter.restartable(unhealthy):
        try:
            restarter.restart(component)
            report.restarted.append(component)
        except Exception as exc:  # any failure of one restart is reported in the alert, not raised
            report.restart_errors[component] = f"{type(exc).__name__}: {exc}"


def supervise_stream(conn: psycopg.Connection, settings: Settings, as_of: datetime, *,
                     restarter: Restarter | None = None,
                     components: Sequence[str] = EXPECTED_COMPONENTS) -> SupervisionReport:
    """One supervision pass at ``as_of`` (see module docstring); writes/resolves pipeline alerts.

    ``restarter`` defaults to :func:`heliosgrid.orchestration.restart.restarter_for` (settings).
    """
    report = SupervisionReport(as_of)
    report.heartbeats = heartbeat_states(conn, as_of, settings.heartbeat_max_age_s, components)
    try:
        report.lag_messages = consumer_lag(settings.kafka_bootstrap_servers, settings.consumer_group,
                                           settings.topic_readings)
    except LagUnavailable as exc:
        report.lag_error = str(exc)
    unhealthy = [hb.component for hb in report.heartbeats if not hb.healthy]
    if unhealthy:
        _restart(report, restarter or restarter_for(settings), unhealthy)
    active: set[tuple[str, str, str]] = set()

    def alert(device: str, fault: str, severity: str, title: str, evidence: dict[str, Any], action: str) -> None:
        active.add((PIPELINE_SITE_ID, device, fault))
        raise_alert(conn, site_id=PIPELINE_SITE_ID, device_id=device, source="pipeline", fault_type=fault,
                    severity=severity,  # type: ignore[arg-type]
                    title=title, started_at=as_of, last_seen_at=as_of, evidence=evidence,
                    recommended_action=action)
        report.alerts_raised += 1

    with conn.transaction():
        for hb in report.heartbeats:
            if hb.healthy:
                continue
            age = "no heartbeat ever" if hb.age_s is None else f"last heartbeat {hb.age_s:.0f} s ago"
            restarted = hb.component in report.restarted
            alert(hb.component, "heartbeat_stale", "critical",
                  f"{hb.component} is not alive ({age}, limit {settings.heartbeat_max_age_s} s)"
                  + (" — restarted" if restarted else ""),
                  {"age_s": hb.age_s, "status": hb.status, "instances": hb.instances,
                   "max_age_s": settings.heartbeat_max_age_s, "restarted": restarted,
                   "restart_error": report.restart_errors.get(hb.component), "deployment": report.deployment},
                  f"Check the {hb.component} process/container and its log (heliosgrid status; docker compose ps). "
                  "The alert resolves when heartbeats are fresh again.")
        if report.lag_error is not None:
            alert("broker", "broker_unreachable", "critical", "Kafka broker unreachable for lag supervision",
                  {"error": report.lag_error, "bootstrap_servers": settings.kafka_bootstrap_servers},
                  "Check the broker process/container and HELIOS_KAFKA_BOOTSTRAP_SERVERS.")
        elif report.lag_messages is not None and report.lag_messages > settings.consumer_lag_max_messages:
            alert("consumer", "consumer_lag", "warning",
                  f"Consumer lag {report.lag_messages} messages (limit {settings.consumer_lag_max_messages})",
                  {"lag_messages": report.lag_messages, "limit": settings.consumer_lag_max_messages,
                   "group": settings.consumer_group, "topic": settings.topic_readings},
                  "The consumer falls behind: check its batch latency metrics and the database load; "
                  "scale consumers up to the partition count.")
        report.alerts_resolved = resolve_absent(conn, "pipeline", FAULT_TYPES, active, as_of,
                                                site_ids=[PIPELINE_SITE_ID])
    return report

