"""Airflow for the DAG tests: a private AIRFLOW_HOME with a SQLite metadata DB per session.

The ``AIRFLOW_*`` variables (``helios_dag_env``) are put into ``os.environ`` for each test module
of this directory (autouse fixture ``airflow_env``) and restored after it, so they never leak into
other areas' subprocesses; the first Airflow import happens inside these modules (Airflow reads
its home and metadata DB once, at import). ``airflow db migrate`` runs once per session (~3 s).
DAG runs use ``dag.test()`` in-process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helios_dag_env import AIRFLOW_ENV, AIRFLOW_HOME, DAGS_FOLDER

from heliosgrid.environ import patched_environ
from heliosgrid.settings import get_settings


@pytest.fixture(scope="module", autouse=True)
def airflow_env() -> Iterator[None]:
    """Apply the Airflow test environment for one module, then restore the previous values."""
    if "airflow" in sys.modules:
        from airflow.configuration import AIRFLOW_HOME as imported_home

        if Path(imported_home) != AIRFLOW_HOME:
            pytest.fail(f"airflow was imported with AIRFLOW_HOME={imported_home} before the DAG tests")
    with patched_environ(AIRFLOW_ENV):
        yield


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrated SQLite metadata DB under the session's AIRFLOW_HOME."""
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run([str(airflow), "db", "migrate"], env={**os.environ, **AIRFLOW_ENV}, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
    return AIRFLOW_HOME


@pytest.fixture(scope="module")
def dagbag(airflow_db: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def helios_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """Point the DAG tasks at a database (Airflow connection) and a private run directory."""
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "run"))  # never the developer's live stack

    def use(db_url: str, **env: str) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_HELIOSGRID_DB", db_url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()
