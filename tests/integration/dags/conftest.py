"""Airflow for the DAG tests: a private AIRFLOW_HOME with a SQLite metadata DB per session.

The ``AIRFLOW_*`` variables are set when this conftest is imported (``helios_dag_env``), i.e.
before any test imports Airflow (Airflow reads its configuration once, at import).
``airflow db migrate`` runs once per session (~3 s). DAG runs use ``dag.test()`` in-process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helios_dag_env import AIRFLOW_ENV, AIRFLOW_HOME, AIRFLOW_PREIMPORTED


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """Migrated SQLite metadata DB under the session's AIRFLOW_HOME."""
    if AIRFLOW_PREIMPORTED:
        pytest.fail("airflow was imported before tests/integration/dags/conftest.py set AIRFLOW_HOME")
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run([str(airflow), "db", "migrate"], env={**os.environ, **AIRFLOW_ENV},
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
    yield AIRFLOW_HOME
