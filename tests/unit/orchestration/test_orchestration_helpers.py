"""Unit tests of the orchestration helpers: DB URL resolution, data intervals, restart choice."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from heliosgrid.orchestration.dagkit import dag_kwargs, data_interval
from heliosgrid.orchestration.db import AIRFLOW_CONN_ENV, ConnectionConfigError, airflow_connection_url, connection_url
from heliosgrid.orchestration.restart import components_to_restart, restarter_for
from heliosgrid.settings import load_settings
from heliosgrid.stack import ComponentStatus


def test_airflow_uri_becomes_libpq_url() -> None:
    url = airflow_connection_url("postgres://helios:s%40cret@db.example:5433/heliosgrid?sslmode=require")
    assert url == "postgresql://helios:s%40cret@db.example:5433/heliosgrid?sslmode=require"


def test_airflow_json_connection_becomes_libpq_url() -> None:
    raw = json.dumps({"conn_type": "postgres", "host": "db", "login": "u", "password": "p@ss/w", "port": 5432,
                      "schema": "helios", "extra": {"sslmode": "disable"}})
    assert airflow_connection_url(raw) == "postgresql://u:p%40ss%2Fw@db:5432/helios?sslmode=disable"


@pytest.mark.parametrize("raw, fragment", [
    ("mysql://u@h/db", "scheme 'mysql'"),
    ('{"conn_type": "mysql"}', "conn_type must be 'postgres'"),
    ("{not json", "neither a URI nor valid JSON"),
    ("postgresql:///nohost", "postgresql://user:password@host"),
])
def test_bad_airflow_connection_is_a_clear_error(raw: str, fragment: str) -> None:
    with pytest.raises(ConnectionConfigError, match="AIRFLOW_CONN_HELIOSGRID_DB") as info:
        airflow_connection_url(raw)
    assert fragment in str(info.value)


def test_airflow_connection_wins_over_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(database_url="postgresql://from-settings@h1/db1")
    monkeypatch.delenv(AIRFLOW_CONN_ENV, raising=False)
    assert connection_url(settings) == "postgresql://from-settings@h1/db1"
    monkeypatch.setenv(AIRFLOW_CONN_ENV, "postgresql://from-airflow@h2:5432/db2")
    assert connection_url(settings) == "postgresql://from-airflow@h2:5432/db2"


def test_data_interval_from_context_is_plain_utc() -> None:
    cet = timezone(timedelta(hours=1))
    start, end = data_interval({"data_interval_start": datetime(2026, 3, 1, 13, 0, tzinfo=cet),
                                "data_interval_end": datetime(2026, 3, 1, 13, 15, tzinfo=cet)})
    assert (start, end) == (datetime(2026, 3, 1, 12, 0, tzinfo=UTC), datetime(2026, 3, 1, 12, 15, tzinfo=UTC))
    assert start.tzinfo is UTC
    run = SimpleNamespace(data_interval_start=None, data_interval_end=None)
    s2, e2 = data_interval({"dag_run": run, "logical_date": datetime(2026, 3, 1, tzinfo=UTC)})
    assert e2 == datetime(2026, 3, 1, tzinfo=UTC) and s2 < e2


def test_dag_kwargs_carry_the_required_defaults() -> None:
    kw = dag_kwargs(dag_id="x", schedule=None, doc_md="doc", tags=["t"], dagrun_timeout=timedelta(minutes=5))
    assert kw["catchup"] is False and kw["max_active_runs"] == 1
    assert kw["default_args"]["retries"] >= 1 and kw["default_args"]["retry_exponential_backoff"] is True
    assert kw["tags"] == ["heliosgrid", "t"]


def _status(name: str, state: str) -> ComponentStatus:
    return ComponentStatus(name=name, kind="service", state=state, pid=None, healthy=None, reason=None,
                           log_file=f"{name}.log", started_at=None)


def test_only_stopped_or_failed_unhealthy_components_are_restarted() -> None:
    statuses = [_status("producer", "stopped"), _status("consumer", "running"), _status("api", "failed")]
    assert components_to_restart(statuses, ["producer", "consumer"]) == ["producer"]
    assert components_to_restart(statuses, []) == []
    assert components_to_restart([_status("consumer", "failed")], ["consumer", "producer"]) == ["consumer"]


def test_restarter_choice_follows_the_settings(tmp_path: Path) -> None:
    empty = load_settings(data_dir=tmp_path / "no-stack")
    orchestrator = restarter_for(load_settings(supervision_restarter="orchestrator", data_dir=tmp_path))
    assert orchestrator.deployment == "orchestrator" and orchestrator.restartable(["consumer"]) == []
    with pytest.raises(RuntimeError, match="restart policy"):
        orchestrator.restart("consumer")
    assert restarter_for(empty).deployment == "orchestrator"  # auto: no local stack recorded
    local = restarter_for(load_settings(supervision_restarter="local", data_dir=tmp_path / "no-stack"))
    assert local.deployment == "local" and local.restartable(["consumer"]) == []  # nothing recorded to restart


def test_supervision_does_not_import_the_local_supervisor() -> None:
    code = ("import sys; import heliosgrid.orchestration.supervision as s; "
            "print('heliosgrid.stack' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
