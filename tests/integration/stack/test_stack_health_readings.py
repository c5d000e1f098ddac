"""``ReadingsCaughtUp`` gates the stack on the demo backfill having reached the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.stack.health import ReadingsCaughtUp

pytestmark = pytest.mark.integration


def _insert(url: str, ts: datetime) -> None:
    with open_connection(url, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg) VALUES ('s1', 'S', 37, -2) "
                     "ON CONFLICT DO NOTHING")
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (ts, ts))
        conn.execute("INSERT INTO readings (device_id, ts, site_id, seq) VALUES ('d1', %s, 's1', %s) "
                     "ON CONFLICT DO NOTHING", (ts, int(ts.timestamp() // 60)))


def test_readings_caught_up_waits_for_recent_data(fresh_db: Any) -> None:
    url = fresh_db()
    ctx: Any = SimpleNamespace(database_url=url)
    check = ReadingsCaughtUp(max_lag_s=300)
    assert check(ctx) == "no readings stored yet"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _insert(url, now - timedelta(days=2))
    reason = check(ctx)
    assert reason is not None and "backfill still arriving" in reason
    _insert(url, now - timedelta(minutes=1))
    assert check(ctx) is None
    assert "caught up" in check.describe()


def test_readings_caught_up_reports_an_unreachable_database() -> None:
    ctx: Any = SimpleNamespace(database_url="postgresql://postgres@127.0.0.1:1/none")
    reason = ReadingsCaughtUp()(ctx)
    assert reason is not None and "cannot connect" in reason
