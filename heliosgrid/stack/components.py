"""The HeliosGrid local stack: the ordered component list behind ``make up``.

Order (each waited for before the next starts): broker → database → migrate → fleet sync →
consumer → producer → API + dashboard → Airflow (metadata DB migrate, api-server, scheduler,
dag-processor). Every service reads its configuration from ``HELIOS_*`` variables that the
supervisor sets (``HELIOS_DATABASE_URL`` once the database is resolved, so no child starts a
database of its own; ``HELIOS_KAFKA_BOOTSTRAP_SERVERS`` from ``Settings.broker_port``).

To add a component, add one :class:`ComponentSpec` to :func:`heliosgrid_specs`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from heliosgrid.settings import Settings, redact_url
from heliosgrid.stack.health import AllOf, HealthCheck, HeartbeatFresh, HttpJsonField, HttpOk, PortOpen, ReadingsCaughtUp
from heliosgrid.stack.process import ProcessRef, process_start_ticks
from heliosgrid.stack.spec import ComponentSpec, StackContext

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_ADMIN_USER = "admin"


def _venv_bin(name: str) -> str:
    """Path of a console script installed next to the running interpreter (``.venv/bin``)."""
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name!r} is not installed in {candidate.parent}: run `make setup`")
    return found


def heliosgrid_cli(*args: str) -> list[str]:
    """argv for ``heliosgrid <args>`` with the project's own interpreter."""
    return [_venv_bin("heliosgrid"), *args]


# ---------------------------------------------------------------------------------- broker
def broker_spec(settings: Settings) -> ComponentSpec:
    """Tansu (Kafka protocol, in-memory) on ``Settings.broker_port``; topics created after start."""
    url = f"tcp://127.0.0.1:{settings.broker_port}"
    bootstrap = f"127.0.0.1:{settings.broker_port}"

    def argv(ctx: StackContext) -> list[str]:
        from heliosgrid.broker import tansu_binary

        return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]

    def create_topics(ctx: StackContext) -> None:
        from heliosgrid.broker import ensure_topics

        ensure_topics(bootstrap, {settings.topic_readings: settings.topic_partitions,
                                  settings.topic_dlq: settings.topic_partitions})

    return ComponentSpec(
        name="broker", argv=argv, health=PortOpen("127.0.0.1", settings.broker_port), start_timeout_s=30,
        after_healthy=create_topics, addresses=lambda ctx: [("broker (Kafka protocol)", bootstrap)],
        description="Tansu Kafka-protocol broker",
    )


# ---------------------------------------------------------------------------------- database
class DatabaseReachable:
    """Healthy when ``SELECT 1`` succeeds on the stack's database."""

    def __call__(self, ctx: StackContext) -> str | None:
        from heliosgrid.db.connection import DatabaseUnavailable, open_connection

        if not ctx.database_url:
            return "no database URL known"
        try:
            with open_connection(ctx.database_url, autocommit=True, connect_timeout_s=3) as conn:
                conn.execute("SELECT 1")
        except DatabaseUnavailable as exc:
            return str(exc)
        return None

    def describe(self) -> str:
        return "SELECT 1 on the database"


def postmaster_ref(pgdata: Path) -> ProcessRef | None:
    """The running postmaster of the cluster in ``pgdata`` (from ``postmaster.pid``), if any.

    Stopped with SIGINT (PostgreSQL's fast shutdown: rolls back open transactions, checkpoints).
    """
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    ticks = process_start_ticks(pid)
    if ticks is None:
        return None
    return ProcessRef(pid=pid, start_ticks=ticks, group=False, stop_signal=int(signal.SIGINT))


def database_spec(settings: Settings, resolve: Callable[[Settings], str] | None = None) -> ComponentSpec:
    """Resolve the database (explicit URL, local PostgreSQL, else embedded pgserver).

    Only an embedded PostgreSQL under ``<data_dir>/pgdata`` is recorded as ours and stopped by
    ``down``; an explicit or the local server is used and left alone. ``resolve`` defaults to
    :func:`heliosgrid.db.connection.ensure_local_database` (the explicit local-mode step).
    """

    def run(ctx: StackContext) -> ProcessRef | None:
        from heliosgrid.db.connection import LOCAL_SERVER_URL, ensure_local_database

        url = (resolve or ensure_local_database)(settings)
        ctx.env["HELIOS_DATABASE_URL"] = url
        explicit = settings.database_url is not None and bool(settings.database_url.get_secret_value().strip())
        if explicit or url.startswith(LOCAL_SERVER_URL.rsplit("/", 1)[0] + "/"):
            return None
        pgdata = (ctx.data_dir / "pgdata").resolve()
        ref = postmaster_ref(pgdata)
        if ref is None:
            raise RuntimeError(f"embedded PostgreSQL in {pgdata} has no running postmaster")
        ctx.info["database_embedded"] = True
        return ref

    return ComponentSpec(
        name="database", kind="inline", run=run, health=DatabaseReachable(), start_timeout_s=60,
        stop_signal=int(signal.SIGINT), stop_timeout_s=30,
        addresses=lambda ctx: [("database", redact_url(ctx.database_url or "?"))],
        description="PostgreSQL: HELIOS_DATABASE_URL, local 127.0.0.1:5432, else embedded",
    )


# ---------------------------------------------------------------------------------- API key
def ensure_demo_api_key(ctx: StackContext) -> str:
    """Reuse the stack's demo API key (``<data_dir>/demo-api-key``, 0600) if it is still valid in
    this database, else create one with scope ``read`` + ``alerts:write``; returns the secret."""
    from heliosgrid.api.auth import create_key, hash_key
    from heliosgrid.db.connection import open_connection

    assert ctx.database_url is not None
    path = ctx.data_dir / "demo-api-key"
    with open_connection(ctx.database_url, autocommit=True) as conn:
        if path.exists():
            secret = path.read_text().strip()
            row = conn.execute(
                "SELECT 1 FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (hash_key(secret),)
            ).fetchone()
            if row:
                return secret
        created = create_key(conn, "local-stack dashboard", ["read", "alerts:write"])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(created.secret + "\n")
    return created.secret


def api_spec(settings: Settings) -> ComponentSpec:
    """``heliosgrid api`` (FastAPI + dashboard) on ``Settings.api_host:api_port``."""
    base = f"http://{settings.api_host}:{settings.api_port}"

    def after(ctx: StackContext) -> None:
        ctx.info["api_key"] = ensure_demo_api_key(ctx)

    def addresses(ctx: StackContext) -> list[tuple[str, str]]:
        key = ctx.info.get("api_key", "")
        # The key rides in the URL *fragment*, which browsers never send to the server: it cannot
        # reach an access log or a proxy; the dashboard moves it to localStorage and clears it.
        return [
            ("API", f"{base}/v1  (OpenAPI: {base}/docs)"),
            ("dashboard", f"{base}/#key={key}" if key else f"{base}/"),
            ("API key (read, alerts:write)", f"in {ctx.data_dir / 'demo-api-key'} (0600)" if key else "-"),
        ]

    return ComponentSpec(
        name="api", argv=heliosgrid_cli("api", "--host", settings.api_host, "--port", str(settings.api_port)),
        health=HttpOk(f"{base}/v1/health"), depends_on=("database",), start_timeout_s=90,
        after_healthy=after, addresses=addresses, description="API + dashboard",
    )


# ---------------------------------------------------------------------------------- Airflow
def airflow_metadata_db_name(settings: Settings) -> str:
    """``airflow`` for the default stack; ``<local_database_name>_airflow`` for a side-by-side one."""
    if settings.local_database_name == "heliosgrid":
        return "airflow"
    return f"{settings.local_database_name}_airflow"[:63]


def sqlalchemy_url(libpq_url: str, dbname: str) -> str:
    """The SQLAlchemy (psycopg 3 driver) URL of database ``dbname`` on the server of ``libpq_url``."""
    parts = urlsplit(libpq_url)
    return urlunsplit(("postgresql+psycopg", parts.netloc, f"/{dbname}", parts.query, ""))


def airflow_home(ctx: StackContext) -> Path:
    return ctx.data_dir / "airflow"


def airflow_setup_spec(settings: Settings) -> ComponentSpec:
    """Prepare Airflow: metadata database on the stack's PostgreSQL, AIRFLOW_HOME, admin
    password (simple auth manager; generated once, kept in ``<AIRFLOW_HOME>/passwords.json``),
    shared JWT secret and Fernet key (``<AIRFLOW_HOME>/helios-secrets.json``, 0600)."""

    def run(ctx: StackContext) -> ProcessRef | None:
        import psycopg
        from psycopg import sql

        assert ctx.database_url is not None
        home = airflow_home(ctx)
        home.mkdir(parents=True, exist_ok=True)
        dbname = airflow_metadata_db_name(settings)
        server = urlunsplit(urlsplit(ctx.database_url)._replace(path="/postgres"))
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        secrets_file = home / "helios-secrets.json"
        if secrets_file.exists():
            stored = json.loads(secrets_file.read_text())
        else:
            from cryptography.fernet import Fernet

            stored = {"jwt_secret": secrets.token_urlsafe(32), "fernet_key": Fernet.generate_key().decode(),
                      "admin_password": secrets.token_urlsafe(12)}
            fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(stored, fh)
        passwords = home / "passwords.json"
        fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({AIRFLOW_ADMIN_USER: stored["admin_password"]}, fh)
        ctx.env.update(airflow_env(settings, ctx, dbname, stored))
        ctx.info["airflow_user"] = AIRFLOW_ADMIN_USER
        ctx.info["airflow_password"] = stored["admin_password"]
        return None

    return ComponentSpec(name="airflow-setup", kind="inline", run=run, depends_on=("database",),
                         description="Airflow metadata DB, home, credentials")


def airflow_env(settings: Settings, ctx: StackContext, dbname: str, stored: dict[str, str]) -> dict[str, str]:
    """Airflow configuration for every Airflow process of the local stack (``AIRFLOW__*``)."""
    assert ctx.database_url is not None
    home = airflow_home(ctx)
    base_url = f"http://127.0.0.1:{settings.airflow_port}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__FERNET_KEY": stored["fernet_key"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(ctx.database_url, dbname),
        # psycopg 3 is async-capable; Airflow would otherwise derive an asyncpg URL (not installed).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sqlalchemy_url(ctx.database_url, dbname),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": stored["jwt_secret"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(ctx.log_dir / "airflow-tasks"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
        # The DAGs reach the HeliosGrid database through the project settings (HELIOS_DATABASE_URL).
    }


def airflow_specs(settings: Settings) -> list[ComponentSpec]:
    """Airflow 3: metadata-DB migration, then api-server, scheduler and dag-processor."""
    from heliosgrid.orchestration.sitebatch import db_pool_command

    airflow = _venv_bin("airflow")
    base_url = f"http://127.0.0.1:{settings.airflow_port}"

    def addresses(ctx: StackContext) -> list[tuple[str, str]]:
        user, pw = ctx.info.get("airflow_user", AIRFLOW_ADMIN_USER), ctx.info.get("airflow_password", "?")
        return [("Airflow UI", f"{base_url}/  (user {user!r}, password {pw!r})")]

    health_url = f"{base_url}/api/v2/monitor/health"
    # Generous timeouts: right after start the first DAG runs load a 2-core machine fully.
    health: HealthCheck = HttpOk(health_url, timeout_s=15)
    return [
        airflow_setup_spec(settings),
        ComponentSpec(name="airflow-db", kind="task", argv=[airflow, "db", "migrate"],
                      depends_on=("airflow-setup",), start_timeout_s=600, description="Airflow metadata DB migrate"),
        ComponentSpec(name="airflow-pool", kind="task", argv=db_pool_command(settings, airflow),
                      depends_on=("airflow-db",), start_timeout_s=120, description="Airflow pool of the fleet DAGs"),
        ComponentSpec(name="airflow-api-server", argv=[airflow, "api-server", "--port", str(settings.airflow_port),
                                                       "--host", "127.0.0.1", "--workers", "1"],
                      depends_on=("airflow-db",), health=health, start_timeout_s=300, addresses=addresses),
        ComponentSpec(name="airflow-scheduler", argv=[airflow, "scheduler"], depends_on=("airflow-api-server",),
                      health=HttpJsonField(health_url, ("scheduler", "status"), "healthy", 15), start_timeout_s=180,
                      stop_timeout_s=30, stop_repeat_after_s=5),
        ComponentSpec(name="airflow-dag-processor", argv=[airflow, "dag-processor"], depends_on=("airflow-api-server",),
                      health=HttpJsonField(health_url, ("dag_processor", "status"), "healthy", 15),
                      start_timeout_s=180,
                      stop_timeout_s=30),
    ]


# ---------------------------------------------------------------------------------- the stack
def heliosgrid_specs(settings: Settings) -> list[ComponentSpec]:
    """Every component of ``make up``, in start order."""
    python = sys.executable
    return [
        broker_spec(settings),
        database_spec(settings),
        ComponentSpec(name="migrate", kind="task", argv=heliosgrid_cli("db", "migrate"), depends_on=("database",),
                      start_timeout_s=300, description="heliosgrid db migrate"),
        ComponentSpec(name="fleet-sync", kind="task", argv=heliosgrid_cli("fleet", "sync"), depends_on=("migrate",),
                      start_timeout_s=120, description="sites and devices from the fleet file"),
        ComponentSpec(name="consumer", argv=[python, "-m", "consumer"], depends_on=("broker", "migrate"),
                      health=HeartbeatFresh("consumer"), start_timeout_s=90, stop_timeout_s=30,
                      addresses=lambda ctx: [("consumer metrics",
                                              f"http://127.0.0.1:{settings.consumer_metrics_port}/metrics")]),
        ComponentSpec(name="producer",
                      argv=[python, "-m", "producer", "realtime", "--backfill-days", str(settings.demo_backfill_days),
                            "--faults", "random", "--no-progress"],
                      depends_on=("broker", "fleet-sync", "consumer"),
                      health=AllOf((HeartbeatFresh("producer"), ReadingsCaughtUp())), start_timeout_s=900,
                      stop_timeout_s=30, description="demo backfill of the last days (waited for), then real-time simulation"),
        api_spec(settings),
        *airflow_specs(settings),
    ]


def stack_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    """``HELIOS_*`` variables every child gets (the broker address follows ``broker_port``)."""
    return {
        "HELIOS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{settings.broker_port}",
        "HELIOS_DATA_DIR": str(data_dir),
    }
