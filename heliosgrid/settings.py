"""The one configuration object of HeliosGrid.

Every setting is read from the environment with the prefix ``HELIOS_`` (for example
``HELIOS_DATABASE_URL``) or from a ``.env`` file in the working directory. Nothing else in the
code base reads environment variables for its own configuration.

Secrets (database URL passwords) are held as :class:`pydantic.SecretStr` and are never printed:
use :meth:`Settings.public_dict` for display and :func:`redact_url` for log lines.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from heliosgrid.contract.reading import EARLIEST_TS, MAX_FUTURE_SKEW

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<at>@)", re.I)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)


def redact_url(text: str) -> str:
    """Replace any password inside a URL or ``password=`` pair in ``text`` with ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}***{m['at']}", text)
    return _KV_PASSWORD.sub(lambda m: f"{m.group(1)}***", text)


class SettingsError(ValueError):
    """Raised with a readable, secret-free message when the configuration is invalid."""


class Settings(BaseSettings):
    """HeliosGrid configuration (env prefix ``HELIOS_``).

    Durations are in the unit named by the field (``_s`` seconds, ``_ms`` milliseconds,
    ``_days`` days). Power in kW, energy in kWh, money in ``currency`` units.
    """

    model_config = SettingsConfigDict(
        env_prefix="HELIOS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -----------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        description="libpq URL of the database. Unset: the local PostgreSQL at 127.0.0.1:5432 "
        "(database local_database_name); only local mode (make up, heliosgrid stack, the CLI) creates "
        "that database or starts an embedded PostgreSQL under data_dir when none answers.",
    )
    db_backend: Literal["auto", "timescaledb", "postgres"] = Field(
        default="auto",
        description="'auto' uses TimescaleDB when the extension is preloaded (shared_preload_libraries), "
        "else plain PostgreSQL (warning when installed but not preloaded); 'timescaledb' fails without it.",
    )
    local_database_name: str = Field(default="heliosgrid", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    data_dir: Path = Field(default=Path(".helios"), description="Run directory: pids, logs, embedded DB, models.")
    migrations_dir: Path | None = Field(default=None, description="Override of db/migrations (tests only).")

    # --- retention / compression defaults (seed values; DBAs change them with `heliosgrid retention`)
    retention_raw_days: int = Field(default=30, ge=1)
    retention_15m_days: int = Field(default=365, ge=1)
    retention_1h_days: int | None = Field(default=None, ge=1, description="None keeps hourly rollups forever.")
    retention_1d_days: int | None = Field(default=None, ge=1, description="None keeps daily rollups forever.")
    compress_raw_after_days: int = Field(default=7, ge=1)

    # --- streaming ---------------------------------------------------------------------------
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    topic_readings: str = Field(default="heliosgrid.readings", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    topic_dlq: str = Field(default="heliosgrid.readings.dlq", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    topic_partitions: int = Field(default=3, ge=1, le=1024)
    consumer_group: str = "heliosgrid-ingest"
    batch_max_messages: int = Field(default=5000, ge=1, le=1_000_000)
    batch_max_wait_ms: int = Field(default=500, ge=1, le=600_000)
    db_retry_budget_s: float = Field(default=60.0, gt=0, description="Give up (exit non-zero) after this long.")
    db_retry_initial_backoff_s: float = Field(default=0.5, gt=0)
    kafka_session_timeout_ms: int = Field(default=6000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(default=1000, ge=100)
    consumer_metrics_port: int = Field(default=9108, ge=0, le=65535, description="0 disables /metrics.")
    consumer_rollup_refresh_interval_s: float = Field(
        default=5.0, ge=0, description="Run the incremental rollup refresh (plain PostgreSQL) or "
        "the site/fleet 15-min serving tail refresh (TimescaleDB, ADR 0290) at most this often after committed "
        "batches (0 = after every batch)."
    )
    consumer_batch_linger_ms: int = Field(
        default=0, ge=0, le=600_000, description="After a batch's first records, keep collecting while a poll "
        "of this many ms still returns records (0 = take what has accumulated and write it: batches grow with "
        "load, latency stays low). Batches never exceed batch_max_messages / batch_max_wait_ms."
    )

    # --- producer / simulator ----------------------------------------------------------------
    sites_file: Path | None = Field(default=None, description="YAML fleet description; None = demo fleet.")
    simulator_seed: int = 42
    bad_message_rate: float = Field(default=0.002, ge=0.0, le=1.0)
    producer_linger_ms: int = Field(
        default=20, ge=0, le=10_000, description="Kafka producer batching delay, ms (latency vs. throughput)."
    )
    producer_heartbeat_interval_s: float = Field(
        default=30.0, gt=0, description="Producer heartbeat row period, s (when a database is reachable)."
    )
    producer_fault_rate_per_device_month: float = Field(
        default=1.0, ge=0.0, le=100.0, description="Random faults per device per 30 days when faults are on."
    )

    # --- API / dashboard ---------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    api_rate_limit_per_min: int = Field(default=600, ge=1)
    api_max_page_size: int = Field(default=10_000, ge=1)
    api_max_range_days: int = Field(default=366, ge=1)

    # --- forecasting / maintenance -----------------------------------------------------------
    models_dir: Path | None = Field(default=None, description="Model artefacts; None = <data_dir>/models.")
    forecast_horizon_h: int = Field(default=48, ge=1, le=168)
    forecast_drift_skill_threshold: float = Field(default=0.0, description="Alert when rolling skill < this.")
    forecast_train_days: int = Field(default=90, ge=7, le=1095, description="Days of 15-min history a retrain reads.")
    forecast_backtest_days: int = Field(
        default=14, ge=2, le=120, description="Last days of the training window held out for the retrain backtest."
    )
    forecast_drift_window_days: int = Field(
        default=7, ge=1, le=90, description="Days of stored forecasts scored by the drift check (rolling skill)."
    )
    forecast_models: str = Field(
        default="persistence,climatology,prophet,arima,gbm",
        description="Comma-separated candidate models a retrain backtests (persistence is always included).",
    )
    tariff_per_kwh: float = Field(default=0.08, ge=0.0, description="Revenue per kWh for lost-revenue figures.")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")

    # --- airflow / local stack ---------------------------------------------------------------
    airflow_port: int = Field(default=8793, ge=1, le=65535)
    demo_backfill_days: int = Field(
        default=28, ge=0, le=365,
        description="Days of simulated history `make up` backfills before real time (the retrain needs ~3 weeks).",
    )
    broker_port: int = Field(default=19092, ge=1, le=65535)

    # --- data quality / supervision (Airflow DAGs) ----------------------------------------------
    freshness_sla_s: int = Field(
        default=300, ge=1, description="A device's newest reading older than this (s) fails the freshness check."
    )
    dq_min_completeness: float = Field(
        default=0.9, gt=0.0, le=1.0,
        description="Minimum share of expected 60-s samples in every 15-min bucket (0-1).",
    )
    heartbeat_max_age_s: int = Field(
        default=120, ge=1, description="A producer/consumer heartbeat older than this (s) raises an alert."
    )
    consumer_lag_max_messages: int = Field(
        default=50_000, ge=0, description="Consumer-group lag (messages, all partitions) that raises an alert."
    )

    # --- api ---
    api_statement_timeout_ms: int = Field(
        default=15_000, ge=0,
        description="statement_timeout of every API database connection (ms; 0 = none): a slow query answers 503.",
    )
    api_stream_token_ttl_s: int = Field(
        default=60, ge=5, le=3600, description="Lifetime of a stream token from POST /v1/stream/token (s)."
    )
    api_stream_key_recheck_s: float = Field(
        default=5.0, gt=0.0, le=300.0, description="How often an open SSE stream re-checks that its key is not revoked (s)."
    )

    # --- consumer ---
    ingest_ts_earliest: datetime = Field(
        default=EARLIEST_TS, description="Readings with an older ts are rejected (stale_timestamp); timezone-aware."
    )
    ingest_ts_max_age_days: float | None = Field(
        default=None, gt=0,
        description="Readings older than now minus this many days are rejected (stale_timestamp); "
        "None uses retention_raw_days (older raw data would be dropped by retention anyway).",
    )
    ingest_max_future_skew_s: float = Field(
        default=MAX_FUTURE_SKEW.total_seconds(), ge=0,
        description="Readings whose ts is further ahead of the consumer's clock are rejected (future_timestamp).",
    )
    consumer_pipeline_depth: int = Field(
        default=2, ge=1, le=8,
        description="Batches in the consumer's writer stage at once (1: the next batch is only decoded while "
        "one is written; 2: it also waits decoded behind it, so the writer never idles). Memory: depth × "
        "batch_max_messages.",
    )
    dlq_max_payload_bytes: int = Field(
        default=64 * 1024, ge=1024, le=512 * 1024,
        description="Dead-letter records carry at most this many payload bytes (the full payload stays in "
        "quarantine; headers give its size and sha256).",
    )

    @field_validator("ingest_ts_earliest")
    @classmethod
    def _aware_earliest(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    # --- fleet ---
    fleet_batch_size: int = Field(
        default=25, ge=1, le=10_000,
        description="Sites per mapped Airflow task of the forecast, maintenance and retrain DAGs.",
    )
    fleet_max_active_tis: int = Field(
        default=2, ge=1, le=1024,
        description="Mapped site-batch tasks of one fleet DAG running at once (max_active_tis_per_dag).",
    )
    fleet_db_pool: str = Field(
        default="heliosgrid_db", pattern=r"^[A-Za-z0-9_.-]{1,256}$",
        description="Airflow pool every site-batch task runs in; its slots bound concurrent DB-heavy tasks.",
    )
    supervision_restarter: Literal["auto", "local", "orchestrator"] = Field(
        default="auto",
        description="Who restarts a dead producer/consumer: 'local' (make up processes), 'orchestrator' "
        "(compose/Kubernetes restart policy; supervision only alerts), 'auto' (local when a local stack is recorded).",
    )
    consumer_metrics_host: str = Field(
        default="127.0.0.1", description="Address the consumer's /metrics listens on (0.0.0.0 only inside a container)."
    )
    fleet_db_pool_slots: int = Field(
        default=4, ge=1, le=1024, description="Slots of the Airflow pool fleet_db_pool (created idempotently)."
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {server.strip()!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            raw = value.get_secret_value()
            if not re.match(r"^postgres(ql)?://", raw) and "=" not in raw:
                raise ValueError("must be a postgresql:// URL or a libpq key=value string")
        return value

    @model_validator(mode="after")
    def _check_retention(self) -> Settings:
        if self.compress_raw_after_days >= self.retention_raw_days:
            raise ValueError(
                f"compress_raw_after_days ({self.compress_raw_after_days}) must be smaller than "
                f"retention_raw_days ({self.retention_raw_days})"
            )
        return self

    @property
    def models_path(self) -> Path:
        """Directory for model artefacts."""
        return self.models_dir or self.data_dir / "models"

    def public_dict(self) -> dict[str, Any]:
        """All settings as plain values, with secrets redacted (safe to print or log)."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = redact_url(value.get_secret_value())
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out

    # --- bi ---
    bench_bi_fleets: str = Field(
        default="5,20,50", pattern=r"^\d{1,4}(,\d{1,4})*$",
        description="`heliosgrid bench bi`: fleet sizes in sites, comma-separated (20 is the reference size)",
    )
    bench_bi_inverters: int = Field(default=10, ge=1, le=100, description="`heliosgrid bench bi`: inverters per site")
    bench_bi_days: int = Field(default=365, ge=2, le=1100, description="`heliosgrid bench bi`: days of 15-min data")
    # --- forecast ---
    weather_provider: Literal["none", "open-meteo"] = Field(
        default="none", description="NWP feed for the forecasts: none (history only) or open-meteo.")
    weather_open_meteo_url: str = Field(default="https://api.open-meteo.com/v1/forecast",
                                        description="Open-Meteo forecast endpoint (live issue times).")
    weather_open_meteo_historical_url: str = Field(
        default="https://historical-forecast-api.open-meteo.com/v1/forecast",
        description="Open-Meteo historical-forecast endpoint (past issue times, backtests).")
    weather_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per-request timeout of the NWP feed.")
    weather_retries: int = Field(default=2, ge=0, le=10, description="Retries after a failed NWP request.")
    weather_cache_dir: Path | None = Field(default=None, description="NWP response cache; None = <data_dir>/weather.")
    # --- ingest ---
    consumer_fast_record_parser: bool = Field(
        default=True, description="Parse fetched Kafka v2 record batches with consumer.fastrecords (same records "
        "as kafka-python's parser, about half its CPU; anything unusual still goes to kafka-python). ADR 0220.",
    )
    consumer_isolation_level: Literal["read_committed", "read_uncommitted"] = Field(
        default="read_committed", description="Kafka isolation of the consumer: read_committed never stores readings "
        "of a transaction a producer aborted (Kafka Streams, Flink, Connect exactly-once) nor reads past the last "
        "stable offset. ADR 0630.",
    )
    consumer_rollup_refresh_backlog_interval_s: float = Field(
        default=60.0, ge=0, description="While the consumer drains a backlog (full "
        "batches) its rollup refresh (both backends) runs at most this often instead of consumer_rollup_refresh_interval_s "
        "(the rollups trail by the backlog anyway; each refresh recomputes whole hours/days). ADR 0220.",
    )
    consumer_gil_switch_interval_ms: float = Field(
        default=1.0, ge=0, le=100, description="The consumer's Python thread switch interval while it consumes "
        "(sys.setswitchinterval; CPython default 5 ms, 0 leaves it). The writer thread waits this long at most for "
        "the GIL after each database round trip while the polling thread decodes. ADR 0230.",
    )
    # --- end ingest ---

    # --- sim ---
    sim_noise: Literal["realistic", "none"] = Field(
        default="realistic",
        description="Simulator/producer measurement noise: 'realistic' (meter, irradiance sensor, thermal lag; "
                    "calibrated to real series, docs/maintenance.md) or 'none' (exact physics).")
    sim_interval_s: int = Field(default=60, ge=60, le=900,
                                description="Default reporting interval of a simulated device (s; multiple of the "
                                            "simulator step, 60 s … 15 min).")
    sim_device_interval_s: dict[str, int] = Field(
        default_factory=dict,
        description='Per-device reporting interval (s), e.g. {"us-golden-inv01": 900, "us-golden-ws01": 60}.')

    @property
    def sim_noise_profile(self) -> Any:
        """The :class:`heliosgrid.simulation.noise.NoiseProfile` of these settings (None: exact physics)."""
        from heliosgrid.simulation.noise import profile_named

        return profile_named(self.sim_noise, dict(self.sim_device_interval_s), self.sim_interval_s)

    @property
    def weather_cache_path(self) -> Path:
        """Directory of the NWP response cache (one JSON file per site and issue hour)."""
        return self.weather_cache_dir or self.data_dir / "weather"


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings`, turning validation errors into a readable :class:`SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"HELIOS_{field.upper()}: {msg}" if field else msg)
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached). Tests should build their own with :func:`load_settings`."""
    return load_settings()
