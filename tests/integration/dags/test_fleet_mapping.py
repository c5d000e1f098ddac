"""Fleet DAGs mapped over site batches: one mapped task per batch, a failing site does not fail
the fleet (it is alerted and resolved later), a batch whose every site fails does; the database
pool is created idempotently in the Airflow metadata DB."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helios_dag_env import AIRFLOW_ENV
from test_dag_runs import FC_START, _seed_forecast_history, count, run_dag

from heliosgrid.db.connection import open_connection
from heliosgrid.orchestration.sitebatch import db_pool_command
from heliosgrid.settings import load_settings

pytestmark = pytest.mark.integration

GOOD, BAD, OTHER = "fleet-ok", "fleet-bad", "fleet-ok2"  # sorted: [bad, ok], [ok2]
RETRAIN_AT = FC_START + timedelta(days=21, hours=2, minutes=40)


def _map_states(dag_run: Any, task_id: str) -> dict[int, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.map_index: ti.state for ti in session.query(TaskInstance).filter_by(
            dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id)}


def test_fleet_dags_map_over_site_batches_in_the_db_pool(dagbag: Any) -> None:
    settings = load_settings()
    for dag_id, task_id in (("heliosgrid_forecast", "forecast"), ("heliosgrid_maintenance", "detect_faults"),
                            ("heliosgrid_retrain", "retrain")):
        dag = dagbag.get_dag(dag_id)
        assert set(dag.task_ids) == {"batches", task_id, "report"}, dag_id
        mapped = dag.get_task(task_id)
        assert mapped.pool == settings.fleet_db_pool
        assert mapped.max_active_tis_per_dag == settings.fleet_max_active_tis
        assert {t.task_id for t in mapped.upstream_list} == {"batches"}
        assert {t.task_id for t in mapped.downstream_list} == {"report"}


def test_db_pool_is_created_idempotently(airflow_db: Path) -> None:
    env = {**os.environ, **AIRFLOW_ENV}
    for slots in ("3", "5"):  # second call updates the same pool
        settings = load_settings(fleet_db_pool="helios_test_pool", fleet_db_pool_slots=int(slots))
        proc = subprocess.run(db_pool_command(settings), env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
    out = subprocess.run([*db_pool_command(load_settings())[:2], "list", "-o", "json"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    pools = [p for p in json.loads(out.stdout) if p["pool"] == "helios_test_pool"]
    assert [int(p["slots"]) for p in pools] == [5]


def test_retrain_one_failing_site_does_not_fail_the_fleet(
    dagbag: Any, fresh_db: Callable[..., str], helios_env: Callable[..., None], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    url = fresh_db()
    helios_env(url, HELIOS_MODELS_DIR=str(models), HELIOS_FORECAST_TRAIN_DAYS="30",
               HELIOS_FORECAST_BACKTEST_DAYS="6", HELIOS_FORECAST_MODELS="persistence",
               HELIOS_FLEET_BATCH_SIZE="2")
    models.mkdir()
    (models / BAD).write_text("a file where the site's artefact directory must go")  # a real per-site failure
    with open_connection(url, autocommit=True) as conn:
        for site in (GOOD, BAD, OTHER):
            _seed_forecast_history(conn, site)
        run = run_dag(dagbag, "heliosgrid_retrain", RETRAIN_AT)
        assert run.state == "success"
        assert _map_states(run, "retrain") == {0: "success", 1: "success"}  # one mapped task per batch
        for site in (GOOD, OTHER):
            assert count(conn, "SELECT count(*) FROM models WHERE site_id = %s AND is_champion", site) == 1
        assert count(conn, "SELECT count(*) FROM models WHERE site_id = %s", BAD) == 0
        alerts = conn.execute("SELECT site_id, device_id, source, fault_type, state, evidence->>'error' FROM alerts"
                              ).fetchall()
        assert [a[:5] for a in alerts] == [(BAD, "", "pipeline", "retrain_site_failed", "open")]
        assert "Error" in alerts[0][5]

        (models / BAD).unlink()  # fixed: the next run retrains the site and resolves its alert
        assert run_dag(dagbag, "heliosgrid_retrain", RETRAIN_AT + timedelta(days=1)).state == "success"
        assert count(conn, "SELECT count(*) FROM models WHERE site_id = %s AND is_champion", BAD) == 1
        assert conn.execute("SELECT state, resolved_by FROM alerts").fetchall() == [("resolved", "auto")]


def test_retrain_batch_whose_every_site_fails_fails(
    fresh_db: Callable[..., str], helios_env: Callable[..., None], tmp_path: Path
) -> None:
    """The batch task itself (``dag.test()`` would sit out the retry delay): every site fails, so
    the task raises after storing one alert per site."""
    from heliosgrid.orchestration.sitebatch import SiteBatchFailed
    from heliosgrid.orchestration.tasks import retrain_batch_task

    models = tmp_path / "models"
    models.write_text("no directory can be made under a file")  # every site fails
    url = fresh_db()
    helios_env(url, HELIOS_MODELS_DIR=str(models), HELIOS_FORECAST_TRAIN_DAYS="30",
               HELIOS_FORECAST_BACKTEST_DAYS="6", HELIOS_FORECAST_MODELS="persistence")
    with open_connection(url, autocommit=True) as conn:
        for site in (GOOD, BAD):
            _seed_forecast_history(conn, site)
        context = {"data_interval_start": RETRAIN_AT - timedelta(days=1), "data_interval_end": RETRAIN_AT}
        with pytest.raises(SiteBatchFailed, match="all 2 sites of the batch failed"):
            retrain_batch_task([GOOD, BAD], context)
        assert conn.execute("SELECT site_id, fault_type, state FROM alerts ORDER BY 1").fetchall() == [
            (BAD, "retrain_site_failed", "open"), (GOOD, "retrain_site_failed", "open")]
        models.unlink()  # one site fixed, the other still broken: the batch succeeds
        (tmp_path / "models").mkdir()
        (models / BAD).write_text("still blocked")
        summary = retrain_batch_task([GOOD, BAD], context)
        assert summary["ok"] == [GOOD] and list(summary["failed"]) == [BAD]
        assert conn.execute("SELECT site_id, state FROM alerts ORDER BY 1").fetchall() == [
            (BAD, "open"), (GOOD, "resolved")]
