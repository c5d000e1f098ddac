"""Alert lifecycle shared by maintenance, data quality, pipeline supervision and forecasting.

One *active* (``open`` or ``acknowledged``) alert exists per ``(site_id, device_id, fault_type)``:
the partial unique index ``alerts_one_active`` (migration 0006) enforces it and
:func:`raise_alert` relies on it (``INSERT … ON CONFLICT … DO UPDATE``), so detectors can call it
on every run and the alert is updated in place instead of duplicated.

States::

    open ──acknowledge──▶ acknowledged ──resolve / auto-resolve──▶ resolved
      └──────────────────resolve / auto-resolve─────────────────────┘

Rules (all times tz-aware UTC; energy kWh; money in ``currency`` units):

* ``started_at`` of an active alert only moves earlier, ``last_seen_at`` only later.
* ``energy_lost_kwh`` is the caller's estimate for the *whole episode* ``[started_at,
  last_seen_at]``; an update keeps the larger of the stored and the new value, so re-running a
  detector over the same (or a shorter) window never lowers nor double-counts it.
* :func:`revise_episode` is the exception (ADR 0560): a detector that re-estimates whole episodes
  with hindsight replaces an alert's start, energy and evidence by its newest estimate (never by
  one made with older data: a re-run of an old window does not undo a better estimate).
* ``revenue_lost`` defaults to ``energy_lost_kwh × tariff`` with the site's ``tariff_per_kwh``
  when set, else the caller's ``tariff_per_kwh`` or ``settings`` (the module never reads the
  global settings).
* ``severity`` only escalates (``info`` < ``warning`` < ``critical``) while the alert is active.
* An acknowledged alert stays acknowledged when the detector sees the fault again.
* Re-raising a finding already covered by a *resolved* alert of the same key (same episode, seen
  again by a re-run over an old window) returns that alert instead of opening a duplicate.
* :func:`resolve_absent` auto-resolves the active alerts of a source whose condition was not seen
  in the latest run (``resolved_by = 'auto'``, ``ended_at = last_seen_at``).

None of these functions commits: the caller owns the transaction (or uses autocommit).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from heliosgrid import alert_episodes
from heliosgrid.settings import Settings

Source = Literal["maintenance", "quality", "pipeline", "forecast"]
Severity = Literal["info", "warning", "critical"]
State = Literal["open", "acknowledged", "resolved"]
SOURCES: tuple[str, ...] = get_args(Source)
SEVERITIES: tuple[str, ...] = get_args(Severity)
STATES: tuple[str, ...] = get_args(State)
AUTO_RESOLVER = "auto"

AlertKey = tuple[str, str, str]
"""``(site_id, device_id, fault_type)``; ``device_id`` is ``''`` for site-level alerts."""


class AlertError(ValueError):
    """Invalid alert input or transition; the message says what and why."""


class AlertNotFound(AlertError):
    """No alert with the given id."""


@dataclass(frozen=True)
class Alert:
    """One row of the ``alerts`` table."""

    alert_id: int
    site_id: str
    device_id: str
    source: str
    fault_type: str
    severity: str
    state: str
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    title: str
    evidence: dict[str, Any]
    energy_lost_kwh: float
    revenue_lost: float
    currency: str
    recommended_action: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> AlertKey:
        return (self.site_id, self.device_id, self.fault_type)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (timestamps as ISO 8601 strings)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True)
class EpisodeEstimate:
    """One part of a run's hindsight estimate of an episode (:func:`revise_episode`): span (tz-aware UTC),
    energy lost (kWh), evidence, title ('': keep the alert's), may it revise (False: the window may cut it)."""

    started_at: datetime
    ended_at: datetime
    energy_lost_kwh: float
    evidence: Mapping[str, Any] = field(default_factory=dict)
    revisable: bool = True
    title: str = ""

    def check(self) -> None:
        """Raise :class:`AlertError` on naive or reversed times or a bad energy."""
        for name in ("started_at", "ended_at"):
            _check_tz(name, getattr(self, name))
        if self.ended_at < self.started_at:
            raise AlertError(f"ended_at {self.ended_at.isoformat()} is before started_at {self.started_at.isoformat()}")
        if not self.energy_lost_kwh >= 0:  # also rejects NaN
            raise AlertError(f"energy_lost_kwh must be >= 0, got {self.energy_lost_kwh}")


_COLUMNS = ", ".join(Alert.__dataclass_fields__)
_SEVERITY_RANK_SQL = "CASE {} WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END"


def _check_tz(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise AlertError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


DEFAULT_CURRENCY: str = Settings.model_fields["currency"].default
"""Currency of an alert when neither the caller nor its settings name one (the schema default)."""


def _tariff_per_kwh(conn: psycopg.Connection, site_id: str, default_tariff: float | None) -> float | None:
    """The site's tariff, else ``default_tariff`` (None when neither is known)."""
    row = conn.execute("SELECT tariff_per_kwh FROM sites WHERE site_id = %s", (site_id,)).fetchone()
    if row is not None and row[0] is not None:
        return float(row[0])
    return default_tariff


def raise_alert(
    conn: psycopg.Connection,
    *,
    site_id: str,
    device_id: str = "",
    source: Source,
    fault_type: str,
    severity: Severity,
    title: str,
    started_at: datetime,
    last_seen_at: datetime,
    evidence: Mapping[str, Any] | None = None,
    energy_lost_kwh: float = 0.0,
    revenue_lost: float | None = None,
    recommended_action: str = "",
    tariff_per_kwh: float | None = None,
    currency: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Open the alert for ``(site_id, device_id, fault_type)`` or update the active one; return its id.

    ``energy_lost_kwh`` (kWh, ≥ 0) is the loss over the whole episode as known to the caller.
    ``revenue_lost`` (currency units) defaults to ``energy_lost_kwh × tariff`` where the tariff is
    ``sites.tariff_per_kwh``, else ``tariff_per_kwh``, else ``settings.tariff_per_kwh``; with none
    of them a loss raises :class:`AlertError` (a zero loss needs no tariff). ``currency`` defaults
    to ``settings.currency``, else :data:`DEFAULT_CURRENCY`. The module never reads the global
    settings: callers pass theirs.
    ``evidence`` must be JSON-serialisable (numbers that triggered the alert).
    """
    _check_alert_args(site_id, source, fault_type, severity, title, started_at, last_seen_at, energy_lost_kwh)
    revenue_lost = _revenue_lost(conn, site_id, energy_lost_kwh, revenue_lost, tariff_per_kwh, settings)
    currency = currency or (settings.currency if settings else DEFAULT_CURRENCY)
    params: dict[str, Any] = {
        "site_id": site_id,
        "device_id": device_id,
        "source": source,
        "fault_type": fault_type,
        "severity": severity,
        "started_at": started_at,
        "last_seen_at": last_seen_at,
        "title": title,
        "evidence": Jsonb(dict(evidence or {})),
        "energy": float(energy_lost_kwh),
        "revenue": float(revenue_lost),
        "currency": currency,
        "action": recommended_action,
    }
    covered = alert_episodes.resolved_episode(conn, params)
    if covered is not None:
        return covered
    alert_episodes.reopen_continued_episode(conn, {**params, "auto": AUTO_RESOLVER})
    return _upsert_alert(conn, params)


def revise_episode(
    conn: psycopg.Connection,
    *,
    site_id: str,
    device_id: str,
    fault_type: str,
    parts: Sequence[EpisodeEstimate],
    as_of: datetime,
    settings: Settings | None = None,
) -> list[int]:
    """One run's hindsight estimate, with the data up to ``as_of``, of the episodes of a key (ADR 0560).

    Each part (a finding of the run) is assigned to the newest alert of the key, whatever its state,
    whose span ``[started_at, coalesce(ended_at, last_seen_at)]`` it overlaps. An alert takes its
    parts' earliest start, the sum of their energy (kWh) and revenue, and the evidence and title of the
    part with the most energy, unless one of its parts is not ``revisable`` (its episode may be cut by the
    run's window) or the alert holds an estimate made with newer data. Opens no alert and changes no
    state or end; returns the ids of the alerts revised."""
    _check_tz("as_of", as_of)
    for p in parts:
        p.check()
    if not parts:
        return []
    key = {"site_id": site_id, "device_id": device_id, "fault_type": fault_type}
    spans = alert_episodes.overlapping(conn, key, min(p.started_at for p in parts), max(p.ended_at for p in parts))
    revised = []
    for alert_id, group in alert_episodes.assign_to_newest(spans, parts).items():
        if not all(p.revisable for p in group):
            continue
        energy = float(sum(p.energy_lost_kwh for p in group))
        top = max(group, key=lambda p: p.energy_lost_kwh)
        params = {"started_at": min(p.started_at for p in group), "as_of": as_of, "energy": energy,
                  "evidence": Jsonb({**dict(top.evidence), "estimated_as_of": as_of.isoformat(), "parts": len(group)}),
                  "revenue": _revenue_lost(conn, site_id, energy, None, None, settings), "title": top.title}
        if alert_episodes.revise(conn, alert_id, params):
            revised.append(alert_id)
    return revised


def _check_alert_args(
    site_id: str,
    source: str,
    fault_type: str,
    severity: str,
    title: str,
    started_at: datetime,
    last_seen_at: datetime,
    energy_lost_kwh: float,
) -> None:
    """Raise :class:`AlertError` on an unknown source/severity, empty keys, naive or reversed times, or a bad loss."""
    if source not in SOURCES:
        raise AlertError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if severity not in SEVERITIES:
        raise AlertError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    if not site_id or not fault_type or not title:
        raise AlertError("site_id, fault_type and title must be non-empty")
    _check_tz("started_at", started_at)
    _check_tz("last_seen_at", last_seen_at)
    if last_seen_at < started_at:
        raise AlertError(f"last_seen_at {last_seen_at.isoformat()} is before started_at {started_at.isoformat()}")
    if not energy_lost_kwh >= 0:  # also rejects NaN
        raise AlertError(f"energy_lost_kwh must be >= 0, got {energy_lost_kwh}")


def _revenue_lost(
    conn: psycopg.Connection,
    site_id: str,
    energy_lost_kwh: float,
    revenue_lost: float | None,
    tariff_per_kwh: float | None,
    settings: Settings | None,
) -> float:
    """``revenue_lost`` as given, else ``energy_lost_kwh`` (kWh) × the site's tariff (currency/kWh).

    Tariff order: ``sites.tariff_per_kwh``, ``tariff_per_kwh``, ``settings.tariff_per_kwh``; a zero
    loss needs none. Raises :class:`AlertError` when a loss has no tariff or the revenue is negative/NaN.
    """
    if revenue_lost is None:
        fallback = tariff_per_kwh if tariff_per_kwh is not None else (settings.tariff_per_kwh if settings else None)
        tariff = _tariff_per_kwh(conn, site_id, fallback) if energy_lost_kwh > 0 else 0.0
        if tariff is None:
            raise AlertError(f"no tariff for site {site_id!r}: pass tariff_per_kwh, settings or revenue_lost")
        revenue_lost = energy_lost_kwh * tariff
    if not revenue_lost >= 0:
        raise AlertError(f"revenue_lost must be >= 0, got {revenue_lost}")
    return revenue_lost


def _upsert_alert(conn: psycopg.Connection, params: Mapping[str, Any]) -> int:
    """Insert the alert, or merge into the active one (worst severity, widest window, largest loss)."""
    rank_new = _SEVERITY_RANK_SQL.format("EXCLUDED.severity")
    rank_old = _SEVERITY_RANK_SQL.format("alerts.severity")
    row = conn.execute(
        f"""INSERT INTO alerts (site_id, device_id, source, fault_type, severity, started_at, last_seen_at,
                                title, evidence, energy_lost_kwh, revenue_lost, currency, recommended_action)
            VALUES (%(site_id)s, %(device_id)s, %(source)s, %(fault_type)s, %(severity)s, %(started_at)s,
                    %(last_seen_at)s, %(title)s, %(evidence)s, %(energy)s, %(revenue)s, %(currency)s, %(action)s)
            ON CONFLICT (site_id, device_id, fault_type) WHERE state <> 'resolved' DO UPDATE SET
                severity = CASE WHEN {rank_new} > {rank_old} THEN EXCLUDED.severity ELSE alerts.severity END,
                started_at = least(alerts.started_at, EXCLUDED.started_at),
                last_seen_at = greatest(alerts.last_seen_at, EXCLUDED.last_seen_at),
                title = EXCLUDED.title,
                evidence = EXCLUDED.evidence,
                energy_lost_kwh = greatest(alerts.energy_lost_kwh, EXCLUDED.energy_lost_kwh),
                revenue_lost = greatest(alerts.revenue_lost, EXCLUDED.revenue_lost),
                currency = EXCLUDED.currency,
                recommended_action = EXCLUDED.recommended_action,
                updated_at = now()
            RETURNING alert_id""",
        params,
    ).fetchone()
    assert row is not None
    return int(row[0])


def resolve_absent(
    conn: psycopg.Connection,
    source: Source,
    fault_types: Iterable[str],
    active_keys: Collection[AlertKey],
    as_of: datetime,
    *,
    site_ids: Collection[str] | None = None,
    min_absence: timedelta = timedelta(0),
) -> int:
    """Auto-resolve active alerts of ``source``/``fault_types`` whose key is not in ``active_keys``.

    Call after a detector run that covered ``fault_types`` (for ``site_ids``, or every site when
    None) up to ``as_of``: alerts it did not confirm are resolved with ``resolved_by = 'auto'``,
    ``ended_at = last_seen_at`` and ``resolved_at = as_of``. Alerts first seen after ``as_of``
    (a re-run over an older window) are left alone, and so are alerts last seen less than
    ``min_absence`` before ``as_of`` (slow conditions such as soiling drop in and out of a noisy
    trend test: one missed run does not end them). Returns the number of alerts resolved.
    """
    _check_tz("as_of", as_of)
    types = list(fault_types)
    if not types:
        return 0
    keep = [list(k) for k in active_keys]
    cur = conn.execute(
        """UPDATE alerts SET state = 'resolved', ended_at = last_seen_at, resolved_by = %(by)s,
                             resolved_at = %(as_of)s, updated_at = now()
           WHERE state <> 'resolved' AND source = %(source)s AND fault_type = ANY(%(types)s)
             AND started_at <= %(as_of)s AND last_seen_at <= %(seen_before)s
             AND (%(all_sites)s OR site_id = ANY(%(sites)s))
             AND NOT EXISTS (
                 SELECT 1 FROM jsonb_array_elements(%(keep)s::jsonb) k
                 WHERE k->>0 = alerts.site_id AND k->>1 = alerts.device_id AND k->>2 = alerts.fault_type)""",
        {
            "by": AUTO_RESOLVER,
            "as_of": as_of,
            "seen_before": as_of - min_absence,
            "source": source,
            "types": types,
            "all_sites": site_ids is None,
            "sites": list(site_ids or []),
            "keep": Jsonb(keep),
        },
    )
    return cur.rowcount


def get_alert(conn: psycopg.Connection, alert_id: int) -> Alert:
    """The alert with ``alert_id``; :class:`AlertNotFound` if there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone()
    if row is None:
        raise AlertNotFound(f"no alert with id {alert_id}")
    return Alert(**row)


def acknowledge(conn: psycopg.Connection, alert_id: int, by: str) -> Alert:
    """Move an open alert to ``acknowledged`` (who and when are recorded). Idempotent when already acknowledged."""
    if not by.strip():
        raise AlertError("acknowledged_by must name a person or system")
    alert = get_alert(conn, alert_id)
    if alert.state == "resolved":
        raise AlertError(f"alert {alert_id} is already resolved")
    if alert.state == "acknowledged":
        return alert
    conn.execute(
        """UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s, acknowledged_at = now(), updated_at = now()
           WHERE alert_id = %s""",
        (by, alert_id),
    )
    return get_alert(conn, alert_id)


def resolve(conn: psycopg.Connection, alert_id: int, by: str) -> Alert:
    """Resolve an open or acknowledged alert by hand. Idempotent when already resolved."""
    if not by.strip():
        raise AlertError("resolved_by must name a person or system")
    alert = get_alert(conn, alert_id)
    if alert.state == "resolved":
        return alert
    conn.execute(
        """UPDATE alerts SET state = 'resolved', resolved_by = %s, resolved_at = now(),
                             ended_at = coalesce(ended_at, last_seen_at),
                             updated_at = now()
           WHERE alert_id = %s""",
        (by, alert_id),
    )
    return get_alert(conn, alert_id)


def list_alerts(
    conn: psycopg.Connection,
    *,
    state: State | Literal["active"] | None = None,
    site_id: str | None = None,
    device_id: str | None = None,
    source: Source | None = None,
    fault_type: str | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Alerts, newest first. ``state='active'`` means open or acknowledged."""
    if state is not None and state not in (*STATES, "active"):
        raise AlertError(f"state must be one of {', '.join((*STATES, 'active'))}, got {state!r}")
    if source is not None and source not in SOURCES:
        raise AlertError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if limit < 1:
        raise AlertError(f"limit must be >= 1, got {limit}")
    where = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    if state == "active":
        where.append("state <> 'resolved'")
    elif state is not None:
        where.append("state = %(state)s")
        params["state"] = state
    for name, value in (("site_id", site_id), ("device_id", device_id), ("source", source), ("fault_type", fault_type)):
        if value is not None:
            where.append(f"{name} = %({name})s")
            params[name] = value
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY started_at DESC, alert_id DESC LIMIT %(limit)s",
            params,
        ).fetchall()
    return [Alert(**r) for r in rows]
