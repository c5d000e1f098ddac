"""The local equivalent of the compose ``distributed`` profile's "N consumers in one group": three
``python -m consumer`` processes in one group on a three-partition topic of a real Tansu broker
share the partitions and store every reading exactly once. (The several-Airflow-workers part is
the LocalExecutor with parallelism > 1, measured by ``heliosgrid bench fleet``; CeleryExecutor
needs Redis, which this machine does not run.)"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from heliosgrid.ingest.synthetic import fleet_ids, readings_stream, register_devices
from tests.integration.consumer.ingest_helpers import (
    committed_offsets,
    consumer_env,
    make_topics,
    missing_seqs,
    produce_readings,
    reading_counts,
    start_consumer,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CONSUMERS, PARTITIONS, PER_DEVICE = 3, 3, 100
START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)


def _last_assignment(log: Path) -> list[int] | None:
    found = re.findall(r"assigned partitions: (\[[0-9, ]*\])", log.read_text())
    return ast.literal_eval(found[-1]) if found else None


def test_three_consumer_processes_share_one_group_and_store_everything_once(
    broker: str, topic_names: dict[str, str], fresh_db: Callable[..., str], tmp_path: Path
) -> None:
    db = fresh_db()
    prefix = f"g{uuid.uuid4().hex[:6]}"
    devices = fleet_ids(prefix, 3, 3)
    with psycopg.connect(db) as conn:
        register_devices(conn, devices)
    make_topics(broker, topic_names, partitions=PARTITIONS)
    group = f"test-group-{uuid.uuid4().hex[:8]}"
    logs = [tmp_path / f"consumer-{i}.log" for i in range(CONSUMERS)]
    procs = [start_consumer(consumer_env(db, broker, topic_names, group, batch_max_messages=100), log)
             for log in logs]
    try:
        # the group settles with every process owning exactly one partition
        wait_for(lambda: sorted(p for log in logs for p in (_last_assignment(log) or [])) == [0, 1, 2], 90,
                 "three consumers to split the three partitions")
        total = produce_readings(broker, topic_names["readings"], readings_stream(devices, START, PER_DEVICE))
        assert total == len(devices) * PER_DEVICE

        def all_committed() -> bool:
            offsets = committed_offsets(broker, group, topic_names["readings"], PARTITIONS)
            return sum(o or 0 for o in offsets.values()) == total

        wait_for(all_committed, 120, "every message committed by the group", every_s=1.0)
        assert all(_last_assignment(log) and len(_last_assignment(log) or []) == 1 for log in logs)
        assert all(p.poll() is None for p in procs)  # none died
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0] * CONSUMERS
    rows, distinct = reading_counts(db, prefix)
    assert missing_seqs(db, [d for d, _ in devices], PER_DEVICE) == {}
    assert rows == distinct == total
