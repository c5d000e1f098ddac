"""Issue 11 #12: a real-time producer pointed at a new, empty database sends its backfill history
again, even though its checkpoint file (from a run into another database) says "resume near now"."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.physics import load_fleet
from producer.service import ProducerService, RunConfig, RunStats, database_identity

pytestmark = pytest.mark.integration

FLEET_YAML = """
sites:
  - site_id: fresh-site
    name: Fresh database site
    latitude_deg: 37.1
    longitude_deg: -2.4
    altitude_m: 400
    timezone: Europe/Madrid
    inverters: {count: 2, dc_capacity_kw: 120, ac_capacity_kw: 100}
    weather_stations: 0
"""
BACKFILL = pd.Timedelta(minutes=30)


def _run_until_caught_up(config: RunConfig, fleet: list, timeout_s: float = 60.0) -> RunStats:
    """Run a real-time producer in a thread; stop it once it waits for the wall clock."""
    service = ProducerService(config, fleet)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    caught_up = pd.Timestamp.now(tz="UTC").floor("1min") - pd.Timedelta(minutes=1)
    while time.monotonic() < deadline:
        last = service.stats.last_ts
        if last is not None and last >= caught_up:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    service.request_stop()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return service.stats


def test_database_identity_differs_per_database(fresh_db: Callable[..., str]) -> None:
    a, b = fresh_db(), fresh_db()
    ids = {database_identity(a), database_identity(b)}
    assert None not in ids and len(ids) == 2
    assert database_identity(fresh_db(migrated=False)) is None  # not migrated: nothing to key to


def test_new_database_gets_the_backfill_despite_an_old_checkpoint(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(FLEET_YAML, encoding="utf-8")
    fleet = load_fleet(fleet_file)
    checkpoint = tmp_path / "producer" / "checkpoint-realtime.json"  # shared, as in <data_dir>/producer

    def config(url: str) -> RunConfig:
        start = pd.Timestamp.now(tz="UTC").floor("1min") - BACKFILL
        return RunConfig(mode="realtime", topic=topic_names["readings"], bootstrap_servers=broker, start=start,
                         speed=math.inf, seed=7, database_url=url, checkpoint=checkpoint, heartbeat_interval_s=5)

    first = config(fresh_db())
    stats = _run_until_caught_up(first, fleet)
    assert stats.first_ts == first.start and stats.good_sent >= 2 * 29  # the backfill went out
    assert checkpoint.is_file()

    second_url = fresh_db()  # `make up` against a new, empty database; same data dir
    second = config(second_url)
    stats = _run_until_caught_up(second, fleet)
    assert stats.first_ts == second.start  # history again, not resumed from the other database's checkpoint
    assert stats.good_sent >= 2 * 29
    with open_connection(second_url, autocommit=True) as conn:  # the fleet was registered in the new database
        row = conn.execute("SELECT count(*) FROM devices WHERE site_id = 'fresh-site'").fetchone()
    assert row is not None and row[0] == 2
