"""Heartbeat judgement of the stream supervision against real PostgreSQL (no Airflow needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.orchestration.supervision import heartbeat_states

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)


def test_newest_instance_decides_and_stopping_is_unhealthy(fresh_db: Callable[..., str]) -> None:
    with open_connection(fresh_db(), autocommit=True) as conn:
        beats = [
            ("consumer", "old", AS_OF - timedelta(hours=3), "stopping"),  # replaced instance, left behind
            ("consumer", "new", AS_OF - timedelta(seconds=20), "ok"),
            ("producer", "p1", AS_OF - timedelta(seconds=30), "stopping"),  # shutting down right now
        ]
        for component, instance, at, status in beats:
            conn.execute("INSERT INTO heartbeats (component, instance, last_beat_at, status) VALUES (%s, %s, %s, %s)",
                         (component, instance, at, status))
        states = {s.component: s for s in heartbeat_states(conn, AS_OF, 120, ("consumer", "producer", "replayer"))}
    assert states["consumer"].healthy and states["consumer"].instances == 2 and states["consumer"].age_s == 20
    assert not states["producer"].healthy and states["producer"].status == "stopping"
    assert not states["replayer"].healthy and states["replayer"].age_s is None and states["replayer"].instances == 0
