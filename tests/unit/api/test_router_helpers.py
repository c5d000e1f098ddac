"""Router helpers: enums built from the alert lifecycle's closed sets, the alert filter as SQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from heliosgrid import alerts as alert_lifecycle
from heliosgrid.api.routers.alerts import AlertState, Severity, Source, alert_filter
from heliosgrid.api.routers.common import value_enum


@given(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=8), min_size=1, max_size=6, unique=True))
def test_value_enum_members_are_the_values_in_order(values: list[str]) -> None:
    enum = value_enum("E", values)
    assert [m.value for m in enum] == values
    assert [m.name for m in enum] == values
    assert all(enum(v) == v for v in values)


def test_alert_enums_are_the_lifecycle_sets() -> None:
    assert [m.value for m in Severity] == list(alert_lifecycle.SEVERITIES)
    assert [m.value for m in Source] == list(alert_lifecycle.SOURCES)
    assert [m.value for m in AlertState] == [*alert_lifecycle.STATES, "active"]


def test_alert_filter_renders_only_the_given_filters() -> None:
    since = datetime(2026, 1, 1, 12, tzinfo=UTC)
    where = asyncio.run(alert_filter(state=AlertState("active"), site_id="s1", severity=Severity("critical"), since=since))
    assert where.sql().as_string(None) == """state <> 'resolved' AND "site_id" = %s AND "severity" = %s AND last_seen_at >= %s"""
    assert where.params == ["s1", "critical", since]
    closed = asyncio.run(alert_filter(state=AlertState("resolved"), device_id="d1", source=Source("quality")))
    assert closed.sql().as_string(None) == """state = %s AND "device_id" = %s AND "source" = %s"""
    assert closed.params == ["resolved", "d1", "quality"]
    assert asyncio.run(alert_filter()).sql().as_string(None) == "TRUE"
