"""docker-compose.yml validates with the real docker-compose and has the production shape."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from heliosgrid.settings import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
HELIOS_SERVICES = ("migrate", "producer", "consumer", "api")
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose); cannot validate the file")
    result = subprocess.run([exe, "-f", str(REPO / "docker-compose.yml"), "config"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def test_all_services_are_present(compose: dict[str, Any]) -> None:
    services = set(compose["services"])
    assert {"kafka", "kafka-init", "timescaledb", *HELIOS_SERVICES, "airflow-postgres", *AIRFLOW_SERVICES} <= services
    assert not any("zookeeper" in name for name in services)


def test_kafka_runs_in_kraft_mode(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    init = compose["services"]["kafka-init"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "--if-not-exists" in "".join(init["command"])


def test_helios_services_are_configured_only_through_settings_variables(compose: dict[str, Any]) -> None:
    fields = {f"HELIOS_{name.upper()}" for name in Settings.model_fields}
    for name in HELIOS_SERVICES:
        env = compose["services"][name]["environment"]
        assert env, name
        unknown = {key for key in env if key not in fields}
        assert not unknown, f"{name}: variables that are not Settings fields: {sorted(unknown)}"
        assert env["HELIOS_DB_BACKEND"] == "timescaledb"
        assert "@timescaledb:5432/" in env["HELIOS_DATABASE_URL"]


def test_startup_order_and_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["heliosgrid", "db", "migrate"]
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    for name in ("producer", "consumer", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("producer", "consumer"):
        assert services[name]["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    for name in ("kafka", "timescaledb", "consumer", "api", "airflow-postgres", *AIRFLOW_SERVICES[1:]):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    for name in AIRFLOW_SERVICES[1:]:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_consumer_can_be_scaled(compose: dict[str, Any]) -> None:
    consumer = compose["services"]["consumer"]
    assert "container_name" not in consumer
    assert "ports" not in consumer


def test_airflow_uses_its_own_metadata_db_the_dags_folder_and_the_helios_connection(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert "@airflow-postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW_CONN_HELIOSGRID_DB"].endswith("@timescaledb:5432/heliosgrid")
        mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service["volumes"]]
        assert any(m.endswith(":/opt/airflow/dags") or ":/opt/airflow/dags:" in m for m in mounts), mounts
        assert service["build"]["target"] == "airflow"
    commands = {compose["services"][n]["command"] if isinstance(compose["services"][n]["command"], str)
                else compose["services"][n]["command"][0] for n in AIRFLOW_SERVICES[1:]}
    assert commands == {"api-server", "scheduler", "dag-processor", "triggerer"}


def test_dockerfile_has_both_targets() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "AS app" in text and "AS airflow" in text
    assert "FROM apache/airflow:${AIRFLOW_VERSION}" in text
    constraints = (REPO / "requirements" / "constraints.txt").read_text()
    version = next(line.split("==")[1] for line in constraints.splitlines() if line.startswith("apache-airflow=="))
    assert f"ARG AIRFLOW_VERSION={version}" in text
