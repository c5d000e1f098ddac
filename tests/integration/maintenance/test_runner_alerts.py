"""The runner's alert policy against real PostgreSQL: a detector that could not judge a device does not
auto-resolve its alert; a string episode that ended before the window revises its alert (ADR 0560)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from heliosgrid import alerts
from heliosgrid.maintenance.detectors import Finding
from heliosgrid.maintenance.runner import RunWindow, _update_alerts
from heliosgrid.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
KEY = ("s1", "s1-inv01", "string_outage")


@pytest.fixture
def conn(alerts_conn: psycopg.Connection) -> psycopg.Connection:
    return alerts_conn


def _open_alert(conn: psycopg.Connection, energy_kwh: float = 2.4) -> int:
    return alerts.raise_alert(
        conn, site_id="s1", device_id="s1-inv01", source="maintenance", fault_type="string_outage", severity="warning",
        title="Inverter s1-inv01 lost 22% of its output", started_at=T0 + timedelta(hours=14),
        last_seen_at=T0 + timedelta(hours=18), energy_lost_kwh=energy_kwh,
    )


def _run(day: int, unjudged: frozenset[tuple[str, str, str]] = frozenset()) -> RunWindow:
    start = pd.Timestamp(T0) + pd.Timedelta(days=day)
    return RunWindow(start, start + pd.Timedelta(days=1), start - pd.Timedelta(days=7), ["s1"], unjudged)


def test_an_alert_whose_detector_could_not_judge_the_device_stays_active(conn: psycopg.Connection) -> None:
    aid = _open_alert(conn)
    _update_alerts(conn, Settings(), [], _run(1, frozenset({KEY})))
    assert alerts.get_alert(conn, aid).state == "open"  # "not evaluated" is no evidence of a repair
    _update_alerts(conn, Settings(), [], _run(2))
    got = alerts.get_alert(conn, aid)
    assert got.state == "resolved" and got.resolved_by == alerts.AUTO_RESOLVER  # judged, and not seen: cleared


def test_a_string_episode_that_ended_before_the_window_revises_its_alert_and_opens_none(conn: psycopg.Connection) -> None:
    aid = _open_alert(conn)
    run = _run(3)
    t0 = pd.Timestamp(T0)
    earlier = Finding("s1", "s1-inv01", "string_outage", "warning", t0 - pd.Timedelta(hours=10), t0 + pd.Timedelta(hours=18),
                      t0 + pd.Timedelta(hours=15), 13.7, evidence={"loss_fraction": 0.21})
    other = Finding("s1", "s1-inv01", "string_outage", "warning", t0 + pd.Timedelta(days=2), t0 + pd.Timedelta(days=2, hours=3),
                    t0 + pd.Timedelta(days=2, hours=1), 5.0)
    _update_alerts(conn, Settings(), [earlier, other], run)
    got = alerts.get_alert(conn, aid)
    assert (got.started_at, got.energy_lost_kwh, got.state) == (T0 - timedelta(hours=10), 13.7, "resolved")
    assert got.evidence["loss_fraction"] == 0.21 and got.evidence["estimated_as_of"] == run.end.isoformat()
    assert [a.alert_id for a in alerts.list_alerts(conn)] == [aid]  # the ended episode without an alert opens none


def test_an_episode_the_window_may_have_cut_revises_nothing(conn: psycopg.Connection) -> None:
    """A string finding within a day of the analysis window's start may have begun before it: its shorter
    span and smaller energy are no better estimate (``REVISION_MARGIN``)."""
    aid = _open_alert(conn, energy_kwh=9.0)
    run = _run(5)  # analysis from T0 - 2 days
    cut = Finding("s1", "s1-inv01", "string_outage", "warning", run.analysis_start + pd.Timedelta(hours=2),
                  pd.Timestamp(T0) + pd.Timedelta(hours=18), run.analysis_start + pd.Timedelta(hours=3), 1.0)
    _update_alerts(conn, Settings(), [cut], run)
    got = alerts.get_alert(conn, aid)
    assert (got.started_at, got.energy_lost_kwh) == (T0 + timedelta(hours=14), 9.0)
