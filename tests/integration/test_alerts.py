"""Alert lifecycle against real PostgreSQL: dedup, escalation, ack/resolve, auto-resolve, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from heliosgrid import alerts
from heliosgrid.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def conn(alerts_conn: psycopg.Connection) -> psycopg.Connection:
    return alerts_conn


def _raise(conn: psycopg.Connection, **kw: object) -> int:
    args: dict[str, object] = {
        "site_id": "s1",
        "device_id": "s1-inv01",
        "source": "maintenance",
        "fault_type": "inverter_trip",
        "severity": "warning",
        "title": "Inverter s1-inv01 tripped",
        "started_at": T0,
        "last_seen_at": T0 + timedelta(minutes=30),
        "evidence": {"ac_power_kw": 0.0, "poa_w_m2": 700.0},
        "energy_lost_kwh": 50.0,
        "recommended_action": "Reset the inverter",
        "tariff_per_kwh": 0.08,
    }
    args.update(kw)
    return alerts.raise_alert(conn, **args)  # type: ignore[arg-type]


def test_dedup_updates_one_active_alert(conn: psycopg.Connection) -> None:
    a = _raise(conn)
    b = _raise(conn, last_seen_at=T0 + timedelta(hours=2), energy_lost_kwh=200.0, severity="critical")
    c = _raise(conn, started_at=T0 - timedelta(minutes=15), last_seen_at=T0 + timedelta(hours=1), energy_lost_kwh=10.0)
    assert a == b == c
    (alert,) = alerts.list_alerts(conn, state="active")
    assert alert.started_at == T0 - timedelta(minutes=15)
    assert alert.last_seen_at == T0 + timedelta(hours=2)
    assert alert.severity == "critical"  # escalated, never lowered by the later 'warning'
    assert alert.energy_lost_kwh == 200.0  # episode total kept, not summed, not lowered
    assert alert.revenue_lost == pytest.approx(200.0 * 0.10)  # site tariff overrides the default


def test_revenue_uses_default_tariff_without_site_tariff(conn: psycopg.Connection) -> None:
    aid = _raise(conn, site_id="s2", device_id="s2-inv01", energy_lost_kwh=100.0, tariff_per_kwh=0.25)
    assert alerts.get_alert(conn, aid).revenue_lost == pytest.approx(25.0)


def test_tariff_and_currency_come_from_the_settings_passed_not_the_global_ones(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELIOS_TARIFF_PER_KWH", "9.0")
    monkeypatch.setenv("HELIOS_CURRENCY", "JPY")
    mine = Settings(tariff_per_kwh=0.5, currency="USD")
    aid = _raise(conn, site_id="s2", device_id="s2-inv01", energy_lost_kwh=10.0, tariff_per_kwh=None, settings=mine)
    alert = alerts.get_alert(conn, aid)
    assert alert.revenue_lost == pytest.approx(5.0) and alert.currency == "USD"


def test_a_loss_without_any_tariff_is_a_clear_error(conn: psycopg.Connection) -> None:
    with pytest.raises(alerts.AlertError, match="no tariff for site 's2'"):
        _raise(conn, site_id="s2", device_id="s2-inv01", energy_lost_kwh=10.0, tariff_per_kwh=None)
    aid = _raise(conn, site_id="s2", device_id="s2-inv01", energy_lost_kwh=0.0, tariff_per_kwh=None)  # no loss: no tariff needed
    assert alerts.get_alert(conn, aid).revenue_lost == 0.0


def test_other_keys_are_separate_alerts(conn: psycopg.Connection) -> None:
    a = _raise(conn)
    b = _raise(conn, device_id="s1-inv02")
    c = _raise(conn, fault_type="soiling")
    assert len({a, b, c}) == 3


def test_ack_then_resolve_then_new_episode(conn: psycopg.Connection) -> None:
    aid = _raise(conn)
    acked = alerts.acknowledge(conn, aid, "operator@site")
    assert acked.state == "acknowledged" and acked.acknowledged_by == "operator@site"
    # Seen again while acknowledged: same alert, still acknowledged.
    assert _raise(conn, last_seen_at=T0 + timedelta(hours=1)) == aid
    assert alerts.get_alert(conn, aid).state == "acknowledged"
    done = alerts.resolve(conn, aid, "operator@site")
    assert done.state == "resolved" and done.resolved_by == "operator@site" and done.ended_at is not None
    with pytest.raises(alerts.AlertError, match="already resolved"):
        alerts.acknowledge(conn, aid, "x")
    # A later episode opens a new alert.
    new = _raise(conn, started_at=T0 + timedelta(days=1), last_seen_at=T0 + timedelta(days=1, hours=1))
    assert new != aid


def test_auto_resolve_when_condition_clears(conn: psycopg.Connection) -> None:
    trip1 = _raise(conn)
    trip2 = _raise(conn, device_id="s1-inv02")
    other_site = _raise(conn, site_id="s2", device_id="s2-inv01")
    quality = _raise(conn, source="quality", fault_type="stale_values")
    as_of = T0 + timedelta(hours=3)
    n = alerts.resolve_absent(
        conn, "maintenance", ["inverter_trip"], {("s1", "s1-inv02", "inverter_trip")}, as_of, site_ids=["s1"]
    )
    assert n == 1
    got = alerts.get_alert(conn, trip1)
    assert got.state == "resolved" and got.resolved_by == alerts.AUTO_RESOLVER
    assert got.ended_at == got.last_seen_at
    assert alerts.get_alert(conn, trip2).state == "open"
    assert alerts.get_alert(conn, other_site).state == "open"  # other site not in scope
    assert alerts.get_alert(conn, quality).state == "open"  # other source not in scope
    # Re-running the old window re-raises the same episode: no duplicate is opened.
    assert _raise(conn) == trip1
    assert len(alerts.list_alerts(conn, site_id="s1", fault_type="inverter_trip", device_id="s1-inv01")) == 1


def test_an_auto_resolved_episode_found_going_on_is_reopened_not_duplicated(conn: psycopg.Connection) -> None:
    """ADR 0530: a later run finds the same episode (same start) lasting past its auto-resolved end."""
    aid = _raise(conn, fault_type="string_outage", last_seen_at=T0 + timedelta(hours=6))
    alerts.acknowledge(conn, aid, "operator@site")
    alerts.resolve(conn, aid, alerts.AUTO_RESOLVER)
    again = _raise(conn, fault_type="string_outage", last_seen_at=T0 + timedelta(days=2), energy_lost_kwh=90.0)
    assert again == aid
    got = alerts.get_alert(conn, aid)
    assert got.state == "acknowledged" and got.resolved_by is None and got.ended_at is None
    assert got.last_seen_at == T0 + timedelta(days=2) and got.energy_lost_kwh == 90.0
    assert len(alerts.list_alerts(conn, fault_type="string_outage")) == 1


def test_an_episode_resolved_by_a_person_or_one_after_the_alert_is_a_new_alert(conn: psycopg.Connection) -> None:
    by_hand = _raise(conn, last_seen_at=T0 + timedelta(hours=6))
    alerts.resolve(conn, by_hand, "operator@site")
    assert _raise(conn, last_seen_at=T0 + timedelta(days=1)) != by_hand  # the operator said it was fixed
    auto = _raise(conn, device_id="s1-inv02", last_seen_at=T0 + timedelta(hours=6))
    alerts.resolve(conn, auto, alerts.AUTO_RESOLVER)
    later = _raise(conn, device_id="s1-inv02", started_at=T0 + timedelta(hours=7), last_seen_at=T0 + timedelta(hours=8))
    assert later != auto and alerts.get_alert(conn, auto).state == "resolved"  # a second trip, after the first ended


def test_resolve_absent_ignores_alerts_newer_than_window(conn: psycopg.Connection) -> None:
    aid = _raise(conn, started_at=T0 + timedelta(days=2), last_seen_at=T0 + timedelta(days=2, hours=1))
    assert alerts.resolve_absent(conn, "maintenance", ["inverter_trip"], set(), T0 + timedelta(hours=5)) == 0
    assert alerts.get_alert(conn, aid).state == "open"


def test_resolve_absent_waits_min_absence_after_the_last_sighting(conn: psycopg.Connection) -> None:
    """A slow condition (soiling) missed by one run stays open until its last sighting is ``min_absence`` old."""
    aid = _raise(conn, fault_type="soiling", last_seen_at=T0 + timedelta(days=1))
    week = timedelta(days=7)
    assert alerts.resolve_absent(conn, "maintenance", ["soiling"], set(), T0 + timedelta(days=3), min_absence=week) == 0
    assert alerts.get_alert(conn, aid).state == "open"
    assert alerts.resolve_absent(conn, "maintenance", ["soiling"], set(), T0 + timedelta(days=8), min_absence=week) == 1
    assert alerts.get_alert(conn, aid).state == "resolved"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"severity": "huge"}, "severity must be one of"),
        ({"source": "nope"}, "source must be one of"),
        ({"started_at": datetime(2026, 6, 1)}, "timezone-aware"),
        ({"last_seen_at": T0 - timedelta(hours=1)}, "before started_at"),
        ({"energy_lost_kwh": -1.0}, "energy_lost_kwh must be >= 0"),
        ({"energy_lost_kwh": float("nan")}, "energy_lost_kwh must be >= 0"),
    ],
)
def test_bad_input_is_refused_clearly(conn: psycopg.Connection, kw: dict[str, object], message: str) -> None:
    with pytest.raises(alerts.AlertError, match=message):
        _raise(conn, **kw)
    assert alerts.list_alerts(conn) == []


def test_unknown_alert_id(conn: psycopg.Connection) -> None:
    with pytest.raises(alerts.AlertNotFound):
        alerts.acknowledge(conn, 999_999, "me")


def _revise(conn: psycopg.Connection, as_of: datetime, *parts: alerts.EpisodeEstimate) -> list[int]:
    return alerts.revise_episode(conn, site_id="s1", device_id="s1-inv01", fault_type="string_outage", parts=parts,
                                 as_of=as_of)


def test_a_hindsight_revision_takes_the_newest_estimate_unless_a_newer_one_is_stored(conn: psycopg.Connection) -> None:
    """ADR 0560: a string episode re-estimated with more data takes the new start and energy (not the
    earliest start and largest energy); a re-run of an older window does not undo it."""
    day = timedelta(days=1)
    aid = _raise(conn, fault_type="string_outage", started_at=T0 - day, energy_lost_kwh=15.2)
    newer = alerts.EpisodeEstimate(T0, T0 + timedelta(hours=8), 7.7, {"loss_fraction": 0.25})
    assert _revise(conn, T0 + 2 * day, newer) == [aid]
    got = alerts.get_alert(conn, aid)
    assert (got.started_at, got.energy_lost_kwh, got.state) == (T0, 7.7, "open")
    assert got.revenue_lost == pytest.approx(7.7 * 0.10) and got.evidence["loss_fraction"] == 0.25
    assert got.evidence["estimated_as_of"] == (T0 + 2 * day).isoformat()
    # The window re-run later (a backfill) brings its older estimate: the newer one stays.
    assert _revise(conn, T0 + day, alerts.EpisodeEstimate(T0 - day, T0 + timedelta(hours=8), 15.2)) == []
    assert alerts.get_alert(conn, aid).energy_lost_kwh == 7.7
    # raise_alert itself keeps the earliest start and the largest energy, as for every other type.
    _raise(conn, fault_type="string_outage", started_at=T0 + timedelta(hours=1), last_seen_at=T0 + timedelta(hours=9),
           energy_lost_kwh=1.0)
    got = alerts.get_alert(conn, aid)
    assert (got.started_at, got.energy_lost_kwh, got.last_seen_at) == (T0, 7.7, T0 + timedelta(hours=9))


def test_a_runs_parts_of_one_episode_are_summed_into_its_alert_whatever_its_state(conn: psycopg.Connection) -> None:
    """One run may see an alert's episode as several findings: the alert takes their earliest start and
    summed energy (the last part alone would undercount); a part that overlaps no alert opens none."""
    day = timedelta(days=1)
    aid = _raise(conn, fault_type="string_outage", started_at=T0 + timedelta(hours=2), last_seen_at=T0 + day,
                 energy_lost_kwh=7.9)
    alerts.resolve(conn, aid, alerts.AUTO_RESOLVER)
    parts = (alerts.EpisodeEstimate(T0 + timedelta(hours=3), T0 + timedelta(hours=20), 6.8, title="lost 28 %"),
             alerts.EpisodeEstimate(T0 + timedelta(hours=22), T0 + day, 1.4, {"loss_fraction": 0.31}),
             alerts.EpisodeEstimate(T0 + 5 * day, T0 + 6 * day, 3.0))
    assert _revise(conn, T0 + 3 * day, *parts) == [aid]
    got = alerts.get_alert(conn, aid)
    assert (got.state, got.started_at, got.ended_at) == ("resolved", T0 + timedelta(hours=3), T0 + day)
    assert got.energy_lost_kwh == pytest.approx(8.2) and got.evidence["parts"] == 2
    assert got.title == "lost 28 %"  # the largest part's words, as its evidence
    assert len(alerts.list_alerts(conn)) == 1
    # A part the run's window may have cut revises nothing.
    cut = alerts.EpisodeEstimate(T0, T0 + timedelta(hours=20), 0.5, revisable=False)
    assert _revise(conn, T0 + 4 * day, cut, parts[1]) == []
    assert alerts.get_alert(conn, aid).energy_lost_kwh == pytest.approx(8.2)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"as_of": datetime(2026, 6, 3)}, "as_of must be timezone-aware"),
        ({"ended_at": T0 - timedelta(hours=1)}, "is before started_at"),
        ({"energy_lost_kwh": float("nan")}, "energy_lost_kwh must be >= 0"),
        ({"started_at": datetime(2026, 6, 1)}, "started_at must be timezone-aware"),
    ],
)
def test_a_bad_revision_is_refused_clearly(conn: psycopg.Connection, kw: dict[str, object], message: str) -> None:
    part: dict[str, object] = {"started_at": T0, "ended_at": T0 + timedelta(hours=5), "energy_lost_kwh": 1.0}
    part.update({k: v for k, v in kw.items() if k in part})
    as_of = kw.get("as_of", T0 + timedelta(days=1))
    with pytest.raises(alerts.AlertError, match=message):
        _revise(conn, as_of, alerts.EpisodeEstimate(**part))  # type: ignore[arg-type]
