"""How a detector's finding meets the alerts already stored for its key (:mod:`heliosgrid.alerts`).

* **covered**: a resolved alert already spans the episode (a re-run over an old window): no new alert;
* **continued**: an auto-resolved alert that the episode goes on past is reopened (ADR 0530);
* **revised**: a hindsight estimate replaces an alert's start, energy, revenue and evidence (ADR 0560).

SQL, and the one rule that assigns a run's parts of an episode to alerts (:func:`assign_to_newest`, also
used by the real-data evaluation's alert book); the caller (:func:`heliosgrid.alerts.raise_alert`,
:func:`heliosgrid.alerts.revise_episode`) checks the arguments and owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import psycopg


class _Span(Protocol):
    @property
    def started_at(self) -> Any: ...
    @property
    def ended_at(self) -> Any: ...


K = TypeVar("K")
P = TypeVar("P", bound=_Span)


def assign_to_newest(spans: Sequence[tuple[K, Any, Any]], parts: Iterable[P]) -> dict[K, list[P]]:
    """Each part (``started_at``, ``ended_at``) goes to the first of ``spans`` — ``(alert, start, end)`` of one
    key's alerts, newest first, whatever their state — that it overlaps (ADR 0560); parts overlapping none
    are left out."""
    groups: dict[K, list[P]] = {}
    for p in parts:
        hit = next((a for a, start, end in spans if start <= p.ended_at and end >= p.started_at), None)
        if hit is not None:
            groups.setdefault(hit, []).append(p)
    return groups


def resolved_episode(conn: psycopg.Connection, params: Mapping[str, Any]) -> int | None:
    """Id of a resolved alert already covering this episode (a re-run over an old window): not reopened."""
    covered = conn.execute(
        """SELECT alert_id FROM alerts
           WHERE site_id = %(site_id)s AND device_id = %(device_id)s AND fault_type = %(fault_type)s
             AND state = 'resolved' AND started_at <= %(started_at)s
             AND coalesce(ended_at, last_seen_at) >= %(last_seen_at)s
           ORDER BY alert_id DESC LIMIT 1""",
        params,
    ).fetchone()
    return None if covered is None else int(covered[0])


def reopen_continued_episode(conn: psycopg.Connection, params: Mapping[str, Any]) -> None:
    """Reopen the newest auto-resolved alert of the key that this episode continues (it starts at or
    before the alert's end and is seen after it) when the key has no active alert: the same fault
    found again by a later run is one alert, not two (ADR 0530). Its state returns to
    ``acknowledged`` if someone had acknowledged it, else ``open``. An alert resolved by a person
    stays resolved: a new alert says the fault is back."""
    conn.execute(
        """UPDATE alerts SET state = CASE WHEN acknowledged_at IS NULL THEN 'open' ELSE 'acknowledged' END,
                             ended_at = NULL, resolved_by = NULL, resolved_at = NULL, updated_at = now()
           WHERE alert_id = (
                 SELECT alert_id FROM alerts
                 WHERE site_id = %(site_id)s AND device_id = %(device_id)s AND fault_type = %(fault_type)s
                   AND state = 'resolved' AND resolved_by = %(auto)s
                   AND %(started_at)s <= coalesce(ended_at, last_seen_at)
                   AND coalesce(ended_at, last_seen_at) < %(last_seen_at)s
                 ORDER BY alert_id DESC LIMIT 1)
             AND NOT EXISTS (
                 SELECT 1 FROM alerts
                 WHERE site_id = %(site_id)s AND device_id = %(device_id)s AND fault_type = %(fault_type)s
                   AND state <> 'resolved')""",
        params,
    )


def overlapping(conn: psycopg.Connection, key: Mapping[str, Any], start: Any, end: Any) -> list[tuple[int, Any, Any]]:
    """``(alert_id, started_at, coalesce(ended_at, last_seen_at))`` of the key's alerts, whatever their
    state, whose span overlaps ``[start, end]``, newest first."""
    rows = conn.execute(
        """SELECT alert_id, started_at, coalesce(ended_at, last_seen_at) FROM alerts
           WHERE site_id = %(site_id)s AND device_id = %(device_id)s AND fault_type = %(fault_type)s
             AND started_at <= %(end)s AND coalesce(ended_at, last_seen_at) >= %(start)s
           ORDER BY alert_id DESC""",
        {**key, "start": start, "end": end},
    ).fetchall()
    return [(int(r[0]), r[1], r[2]) for r in rows]


def revise(conn: psycopg.Connection, alert_id: int, params: Mapping[str, Any]) -> bool:
    """Set an alert's start (never after its end), energy, revenue, evidence and title (if given) to a
    hindsight estimate made with the data up to ``params["as_of"]``, unless the alert holds one made with
    newer data (its ``evidence.estimated_as_of``; none: ``-infinity``); True if set."""
    cur = conn.execute(
        """UPDATE alerts SET started_at = least(%(started_at)s, coalesce(ended_at, last_seen_at)),
                             energy_lost_kwh = %(energy)s, revenue_lost = %(revenue)s, evidence = %(evidence)s,
                             title = coalesce(nullif(%(title)s, ''), title), updated_at = now()
           WHERE alert_id = %(alert_id)s
             AND coalesce((evidence->>'estimated_as_of')::timestamptz, '-infinity') <= %(as_of)s""",
        {**params, "alert_id": alert_id},
    )
    return cur.rowcount > 0
