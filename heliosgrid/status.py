"""What ``heliosgrid status`` reports: components, consumer lag, heartbeats and data freshness.

Every probe is bounded in time and turns failure into a reported state, never an exception:
with the stack down the report says so (``ok`` False) and the CLI exits non-zero. The database
is never *started* here: the URL is ``HELIOS_DATABASE_URL``, else the one the running stack
recorded, else the local PostgreSQL if reachable.

Units: ages in seconds (``*_age_s``), lag in messages.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from heliosgrid.settings import Settings, redact_url

ROLLUP_RELATIONS = ("readings_15m", "readings_1h", "readings_1d")
KAFKA_TIMEOUT_MS = 5000


@dataclass
class StatusReport:
    """The whole report; ``ok`` is True only when every service runs healthy and the broker and
    database answer."""

    components: list[dict[str, Any]] = field(default_factory=list)
    kafka: dict[str, Any] = field(default_factory=dict)
    database: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "components": self.components,
                "kafka": self.kafka, "database": self.database}


def consumer_lag(bootstrap: str, group: str, topic: str) -> dict[str, Any]:
    """Lag of consumer ``group`` on ``topic``: per partition end offset, committed offset, lag.

    A partition without a committed offset counts its whole end offset as lag (the group has
    not read it). Raises on broker errors; :func:`collect_status` reports them.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="heliosgrid-status",
                             request_timeout_ms=KAFKA_TIMEOUT_MS, bootstrap_timeout_ms=KAFKA_TIMEOUT_MS)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="heliosgrid-status", request_timeout_ms=KAFKA_TIMEOUT_MS + 1000,
                             bootstrap_timeout_ms=KAFKA_TIMEOUT_MS, max_partition_fetch_bytes=1024,
                             fetch_max_bytes=4096)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"topic {topic!r} does not exist on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = high_watermarks(consumer, tps)
    finally:
        consumer.close()
    rows = []
    for tp in tps:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else None
        end = int(ends[tp])
        rows.append({"partition": tp.partition, "end_offset": end, "committed_offset": done,
                     "lag": end - (done or 0)})
    return {"group": group, "topic": topic, "partitions": rows, "total_lag": sum(r["lag"] for r in rows)}


def high_watermarks(consumer: Any, tps: list[Any], timeout_s: float = 3.0) -> dict[Any, int]:
    """End offset (high watermark) of each partition.

    ``end_offsets`` (ListOffsets "latest") is not enough on its own: Tansu answers it with the
    number of record *batches*, not records, so it under-reports when producers batch. The high
    watermark carried by a Fetch response is right on both Tansu and Kafka, so each partition is
    fetched once (1 KiB) from the ListOffsets answer (never past the true end) and the larger of
    the two values is kept.
    """
    ends = {tp: int(v) for tp, v in consumer.end_offsets(tps).items()}
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, ends[tp])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(consumer.highwater(tp) is None for tp in tps):
        consumer.poll(timeout_ms=200, max_records=1)
    return {tp: max(ends[tp], int(consumer.highwater(tp) or 0)) for tp in tps}


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def database_status(url: str) -> dict[str, Any]:
    """Heartbeat ages, newest reading per site, newest rollup bucket, open alerts (read-only)."""
    from heliosgrid.db.connection import open_connection

    out: dict[str, Any] = {"url": redact_url(url)}
    with open_connection(url, autocommit=True, connect_timeout_s=3) as conn:
        conn.execute("SET statement_timeout = '10s'")
        out["heartbeats"] = [
            {"component": c, "instance": i, "status": s, "last_beat_at": _iso(t), "age_s": round(float(a), 1)}
            for c, i, s, t, a in conn.execute(
                "SELECT component, instance, status, last_beat_at, extract(epoch FROM now() - last_beat_at) "
                "FROM heartbeats ORDER BY component, instance"
            ).fetchall()
        ]
        # One index probe per known site (readings_site_ts_idx), plus sites that only appear in readings.
        out["sites"] = [
            {"site_id": s, "newest_reading_at": _iso(t),
             "age_s": round(float(a), 1) if a is not None else None}
            for s, t, a in conn.execute(
                """
                WITH ids AS (SELECT site_id FROM sites),
                newest AS (SELECT i.site_id, (SELECT max(r.ts) FROM readings r WHERE r.site_id = i.site_id) AS ts
                           FROM ids i)
                SELECT site_id, ts, extract(epoch FROM now() - ts) FROM newest ORDER BY site_id
                """
            ).fetchall()
        ]
        if not out["sites"]:
            out["sites"] = [
                {"site_id": s, "newest_reading_at": _iso(t), "age_s": round(float(a), 1)}
                for s, t, a in conn.execute(
                    "SELECT site_id, max(ts), extract(epoch FROM now() - max(ts)) FROM readings GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ]
        rollups = []
        for rel in ROLLUP_RELATIONS:
            row = conn.execute(
                f"SELECT max(bucket), extract(epoch FROM now() - max(bucket)) FROM {rel}"  # fixed names only
            ).fetchone()
            newest, age = (row or (None, None))
            rollups.append({"relation": rel, "newest_bucket": _iso(newest),
                            "age_s": round(float(age), 1) if age is not None else None})
        out["rollups"] = rollups
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'acknowledged') FROM alerts"
        ).fetchone()
        out["alerts_open"], out["alerts_acknowledged"] = (int(row[0]), int(row[1])) if row else (0, 0)
        out["policy_jobs"] = policy_jobs_summary(conn)
        from heliosgrid.coverage import status_coverage

        out["maintenance_not_evaluated"] = status_coverage(conn)
    return out


def policy_jobs_summary(conn: Any) -> dict[str, Any] | None:
    """TimescaleDB policy jobs as the scheduler last ran them; None on plain PostgreSQL.

    ``failed`` lists the jobs whose last run failed (the same condition that raises the
    ``timescaledb_job_failed`` pipeline alert in housekeeping).
    """
    from heliosgrid.db.rollups import backend_of, policy_job_status

    if backend_of(conn) != "timescaledb":
        return None
    jobs = policy_job_status(conn)
    failed = [
        {"job_id": j["job_id"], "proc_name": j["proc_name"], "relation": j["relation"],
         "last_run_started_at": _iso(j["last_run_started_at"]), "total_failures": j["total_failures"]}
        for j in jobs if j["failed"]
    ]
    return {"total": len(jobs), "failed": failed,
            "never_run": [j["job_id"] for j in jobs if j["last_run_status"] is None]}


def status_database_url(settings: Settings, recorded_env: dict[str, str]) -> str | None:
    """The database to inspect, without starting one (see module docstring)."""
    if settings.database_url is not None and settings.database_url.get_secret_value().strip():
        return settings.database_url.get_secret_value()
    if recorded_env.get("HELIOS_DATABASE_URL"):
        return recorded_env["HELIOS_DATABASE_URL"]
    from heliosgrid.db.connection import LOCAL_SERVER_URL, server_reachable

    if server_reachable(LOCAL_SERVER_URL, timeout_s=2):
        return LOCAL_SERVER_URL.rsplit("/", 1)[0] + f"/{settings.local_database_name}"
    return None


def collect_status(settings: Settings, *, bootstrap: str | None = None, check_health: bool = True) -> StatusReport:
    """Gather the full report for the stack under ``settings.data_dir``.

    ``bootstrap`` defaults to the broker the stack runs (``127.0.0.1:<broker_port>``) when it
    is up, else ``settings.kafka_bootstrap_servers``.
    """
    from heliosgrid.stack import default_supervisor
    from heliosgrid.stack.health import port_open

    report = StatusReport()
    supervisor = default_supervisor(settings, echo=lambda _line: None)
    state = supervisor.load_state()
    for comp in supervisor.component_status(check_health=check_health):
        report.components.append(comp.as_dict())
        if comp.kind == "service" and comp.state != "running":
            report.problems.append(f"{comp.name}: {comp.state}")
        elif comp.state == "failed" or comp.healthy is False:
            report.problems.append(f"{comp.name}: {comp.reason or comp.state}")

    recorded_env: dict[str, str] = state.get("env", {})
    bootstrap = bootstrap or recorded_env.get("HELIOS_KAFKA_BOOTSTRAP_SERVERS") or settings.kafka_bootstrap_servers
    report.kafka = {"bootstrap": bootstrap}
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    if not port_open(host, int(port), timeout_s=1.0):
        report.kafka["error"] = f"broker not reachable at {bootstrap}"
        report.problems.append(report.kafka["error"])
    else:
        try:
            report.kafka["lag"] = consumer_lag(bootstrap, settings.consumer_group, settings.topic_readings)
        except Exception as exc:
            report.kafka["error"] = f"lag unavailable: {type(exc).__name__}: {exc}"
            report.problems.append(report.kafka["error"])

    url = status_database_url(settings, recorded_env)
    if url is None:
        report.database = {"error": "no database reachable (stack down?)"}
        report.problems.append(report.database["error"])
    else:
        try:
            report.database = database_status(url)
            for job in (report.database.get("policy_jobs") or {}).get("failed", []):
                report.problems.append(
                    f"database: TimescaleDB {job['proc_name']} job {job['job_id']} on {job['relation']} failed "
                    "(timescaledb_information.job_errors has the cause)"
                )
        except Exception as exc:
            report.database = {"url": redact_url(url), "error": redact_url(f"{type(exc).__name__}: {exc}".strip())}
            report.problems.append(f"database: {report.database['error']}")
    with contextlib.suppress(Exception):
        report.database.setdefault("url", redact_url(url or ""))
    return report
