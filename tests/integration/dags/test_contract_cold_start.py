"""Issue 11 #12: on a fresh stack the contract checks wait for the first successful run of the DAG
that produces each data product (no contract-violation alert before it); afterwards a violated
contract alerts as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_dag_runs import SITE, run_dag

from heliosgrid.db.connection import open_connection
from heliosgrid.quality.synthetic import clean_readings, insert_fleet, insert_readings

pytestmark = pytest.mark.integration


def _contract_alerts(conn: Any) -> list[tuple[str, str]]:
    return conn.execute("SELECT device_id, state FROM alerts WHERE fault_type = 'contract_violation' "
                        "ORDER BY 1").fetchall()


def test_contracts_are_pending_until_their_producing_dag_first_succeeds(
    dagbag: Any, fresh_db: Callable[..., str], helios_env: Callable[..., None]
) -> None:
    url = fresh_db()
    helios_env(url)
    now = datetime.now(UTC)
    # intervals around now, so that freshness is judged as on a live stack
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) - timedelta(minutes=15)
    with open_connection(url, autocommit=True) as conn:
        insert_fleet(conn, [SITE])  # a fresh stack: readings arrive, no forecast, no rollup refresh yet
        insert_readings(conn, clean_readings(SITE, start, start + timedelta(minutes=30), seed=3))
        first = run_dag(dagbag, "heliosgrid_quality", start + timedelta(minutes=15))
        assert first.state == "success"
        # forecasts, rollups and (before its own first success) quality are pending: no alert
        assert _contract_alerts(conn) == []
        assert conn.execute("SELECT dag_id FROM pipeline_runs").fetchall() == [("heliosgrid_quality",)]

        # the forecast DAG's first run succeeds (too little history to train: sites skipped) ...
        assert run_dag(dagbag, "heliosgrid_forecast", start + timedelta(minutes=10)).state == "success"
        # ... so from now on "no forecasts" is a violation of the forecasts contract
        assert run_dag(dagbag, "heliosgrid_quality", start + timedelta(minutes=30)).state == "success"
        # readings (no producing DAG) and quality (its freshness compares the wall-clock checked_at of
        # the first run with this interval's end) depend on when the test runs: judged above only
        dag_products = [a for a in _contract_alerts(conn) if a[0] in ("forecasts", "rollups")]
        assert dag_products == [("forecasts", "open")]  # rollups: housekeeping never ran, still pending
