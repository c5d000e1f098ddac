"""Airflow environment of the DAG tests.

Applied to ``os.environ`` only while the session fixture ``airflow_db`` is active (and restored
afterwards), so the ``AIRFLOW_*`` variables never leak into other areas' subprocesses.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DAGS_FOLDER = REPO / "dags"
PROBE_BUNDLE = Path(__file__).resolve().parent / "probe_bundle"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="helios-airflow-test-"))
_LOCAL = "airflow.dag_processing.bundles.local.LocalDagBundle"
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    # the project's DAGs, plus a second bundle with a test-only DAG for the callbacks
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
        {"name": "dags-folder", "classpath": _LOCAL, "kwargs": {"path": str(DAGS_FOLDER)}},
        {"name": "helios-test-probes", "classpath": _LOCAL, "kwargs": {"path": str(PROBE_BUNDLE)}},
    ]),
}
