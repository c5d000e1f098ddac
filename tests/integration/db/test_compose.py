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


SECRETS = ("TIMESCALEDB_ADMIN_PASSWORD", "AIRFLOW_DB_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_FERNET_KEY",
           "AIRFLOW_JWT_SECRET")


def _project(tmp: Path, secrets: bool = True) -> Path:
    """A copy of docker-compose.yml with `.env` / `helios.env` made from the documented examples."""
    shutil.copy(REPO / "docker-compose.yml", tmp / "docker-compose.yml")
    env = (REPO / ".env.example").read_text(encoding="utf-8")
    if secrets:
        env = "\n".join(f"{line}{secrets_token(line)}" if line.rstrip("=") in SECRETS and line.endswith("=") else line
                        for line in env.splitlines())
    (tmp / ".env").write_text(env + "\n", encoding="utf-8")
    app = (REPO / "helios.env.example").read_text(encoding="utf-8").replace("<password>", "app-secret")
    (tmp / "helios.env").write_text(app, encoding="utf-8")
    return tmp


def secrets_token(line: str) -> str:
    import secrets

    return secrets.token_urlsafe(12)


def _config(project: Path, *profiles: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose); cannot validate the file")
    args = [exe, *[a for p in profiles for a in ("--profile", p)], "config"]
    return subprocess.run(args, cwd=project, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _config(_project(tmp_path_factory.mktemp("compose")))
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = _config(_project(tmp_path_factory.mktemp("compose-dist")), "distributed")
    assert result.returncode == 0, f"docker-compose --profile distributed config failed:\n{result.stderr}"
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
        assert "AIRFLOW_CONN_HELIOSGRID_DB" not in env  # one way: HELIOS_DATABASE_URL (ADR 0050)
        assert env["HELIOS_DATABASE_URL"].startswith("postgresql://helios_app:")
        assert env["HELIOS_DATABASE_URL"].endswith("@timescaledb:5432/heliosgrid")
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


def test_no_default_secrets_a_missing_one_stops_compose(tmp_path: Path) -> None:
    result = _config(_project(tmp_path, secrets=False))
    assert result.returncode != 0
    assert "in .env" in result.stderr
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    assert "dev-only" not in text and "PASSWORD:-" not in text


def test_services_connect_as_the_application_role_and_publish_on_localhost(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("producer", "consumer", "api"):
        url = services[name]["environment"]["HELIOS_DATABASE_URL"]
        assert url.startswith("postgresql://helios_app:"), name
    assert services["migrate"]["environment"]["HELIOS_DATABASE_URL"].startswith("postgresql://heliosgrid_admin:")
    assert services["timescaledb"]["environment"]["POSTGRES_USER"] == "heliosgrid_admin"
    init = REPO / "deploy" / "timescaledb-init" / "10-helios-app-role.sh"
    assert "NOSUPERUSER" in init.read_text(encoding="utf-8")
    mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in services["timescaledb"]["volumes"]]
    assert any(m.endswith(":/docker-entrypoint-initdb.d") or ":/docker-entrypoint-initdb.d:" in m for m in mounts)
    for name, service in services.items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", (name, port)
    assert services["consumer"]["environment"]["HELIOS_CONSUMER_METRICS_HOST"] == "0.0.0.0"
    assert "ports" not in services["consumer"]  # metrics exposed to the compose network only
    assert Settings.model_fields["consumer_metrics_host"].default == "127.0.0.1"  # local default


def test_distributed_profile_celery_three_broker_kraft_and_n_consumers(
    compose: dict[str, Any], distributed: dict[str, Any]
) -> None:
    extra = {"redis", "airflow-worker", "kafka-1", "kafka-2", "kafka-3", "kafka-cluster-init", "consumer-cluster"}
    services = distributed["services"]
    assert extra <= set(services)
    for name, service in compose["services"].items():  # only with --profile distributed
        assert (service.get("profiles") == ["distributed"]) == (name in extra), name
    worker = services["airflow-worker"]
    assert worker["command"] in ("celery worker", ["celery", "worker"])
    assert worker["environment"]["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert int(worker["deploy"]["replicas"]) >= 2
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    for node in ("kafka-1", "kafka-2", "kafka-3"):
        env = services[node]["environment"]
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert str(env["KAFKA_MIN_INSYNC_REPLICAS"]) == "2" and str(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == "3"
        assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert len({str(services[n]["environment"]["KAFKA_NODE_ID"]) for n in ("kafka-1", "kafka-2", "kafka-3")}) == 3
    init = "".join(services["kafka-cluster-init"]["command"])
    assert "--replication-factor 3" in init and "min.insync.replicas=2" in init
    consumers = services["consumer-cluster"]
    assert int(consumers["deploy"]["replicas"]) >= 2 and "ports" not in consumers
    assert consumers["environment"]["HELIOS_KAFKA_BOOTSTRAP_SERVERS"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
