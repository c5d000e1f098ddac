"""``heliosgrid db migrate|info|refresh|jobs``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from heliosgrid.cli._args import add_action, add_group, add_json_flag, answer, local_connection, on_local_db, timestamp_arg
from heliosgrid.db.info import database_info
from heliosgrid.db.migrate import PRELOAD_FIX, migrate
from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dbsub = add_group(sub, "db", "database schema: migrate, info, refresh rollups, policy jobs")
    add_action(dbsub, "migrate", "apply pending migrations (idempotent)", cmd_migrate)
    add_json_flag(add_action(dbsub, "info", "backend, applied migrations and relations", cmd_info))
    r = add_action(dbsub, "refresh", "refresh the 15-min, hourly and daily rollups", cmd_refresh)
    r.add_argument("--start", type=timestamp_arg, default=None, metavar="TIMESTAMP",
                   help="TimescaleDB: start of the window (ISO 8601; default: the policy window)")
    r.add_argument("--end", type=timestamp_arg, default=None, metavar="TIMESTAMP",
                   help="TimescaleDB: end of the window (ISO 8601; default: now)")
    add_json_flag(r)
    add_json_flag(add_action(dbsub, "jobs", "TimescaleDB policy jobs and their last run", cmd_jobs))



def cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    with local_connection(settings) as conn:
        result = migrate(conn, settings.migrations_dir, settings.db_backend)
        from heliosgrid.db.retention import seed_policies

        seed_policies(conn, settings)
    if result.applied:
        print(f"applied {len(result.applied)} migration(s) on backend {result.backend}: "
              + ", ".join(f"{v:04d}" for v in result.applied))
    else:
        print(f"up to date: {result.already_applied} migration(s) applied on backend {result.backend}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    return answer(args, on_local_db(database_info), _print_info)


def _print_info(info: dict[str, Any]) -> None:
    print(f"backend:            {info['backend']}")
    print(f"migrations applied: {info['migrations_applied']}")
    print(f"hypertables:        {', '.join(info['hypertables']) or '-'}")
    print(f"rollups:            {', '.join(info['rollups']) or '-'}")
    print(f"timescaledb:        {_timescaledb_line(info['timescaledb'])}")
    print("relations:")
    for rel in info["relations"]:
        print(f"  {rel['name']:<28} {rel['kind']}")


def _timescaledb_line(ts: dict[str, object]) -> str:
    if ts["installed_version"] is None:
        return "not installed"
    version = ts["version"] or f"{ts['installed_version']} installed, not created in this database"
    line = f"{version}; preloaded: {'yes' if ts['preloaded'] else 'no'}; job scheduler: {ts['scheduler']}"
    if "jobs" in ts:
        failed = ts["jobs_failed"]
        line += f"; {ts['jobs']} policy job(s), failed: {', '.join(map(str, failed)) if failed else 'none'}"  # type: ignore[call-overload]
    if not ts["preloaded"]:
        line += f" (to enable: {PRELOAD_FIX})"
    return line


def cmd_refresh(args: argparse.Namespace) -> int:
    from heliosgrid.db.rollups import RollupError, refresh_rollups

    result = on_local_db(lambda conn: refresh_rollups(conn, args.start, args.end), RollupError)
    windows = {rel: [lo.isoformat(), hi.isoformat()] for rel, (lo, hi) in result.windows.items()}
    if args.json:
        print(json.dumps({"backend": result.backend, "buckets_recomputed": result.buckets_recomputed,
                          "windows": windows, "elapsed_s": round(result.elapsed_s, 3)}, indent=2))
    elif result.backend == "postgres":
        print(f"refreshed {result.buckets_recomputed} (device, 15-min) bucket(s) and their hourly/daily "
              f"rollups in {result.elapsed_s:.2f} s")
    else:
        for rel, (lo, hi) in windows.items():
            print(f"refreshed {rel} over [{lo}, {hi})")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from heliosgrid.db.rollups import policy_job_status

    return answer(args, on_local_db(policy_job_status), _print_jobs)


def _print_jobs(jobs: list[dict[str, Any]]) -> int:
    """One line per job; exit status 1 when any job's last run failed."""
    if not jobs:
        print("no TimescaleDB policy jobs (plain-PostgreSQL backend: run `heliosgrid db refresh` and "
              "`heliosgrid retention apply` from the scheduler)")
        return 0
    for job in jobs:
        print(f"{job['job_id']:>6} {job['proc_name']:<38} {job['relation'] or '-':<14} "
              f"every {job['schedule_interval']}  last: {job['last_run_status'] or 'never'}"
              f"  failures: {job['total_failures']}")
    return 1 if any(job["failed"] for job in jobs) else 0
