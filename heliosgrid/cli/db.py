"""``heliosgrid db migrate|info|refresh|jobs``."""

from __future__ import annotations

import argparse
import json

from heliosgrid.cli._args import timestamp_arg
from heliosgrid.db.connection import ensure_local_database, open_connection
from heliosgrid.db.info import database_info
from heliosgrid.db.migrate import PRELOAD_FIX, migrate
from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schema: migrate, info, refresh rollups, policy jobs")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION")
    dbsub.required = True
    m = dbsub.add_parser("migrate", help="apply pending migrations (idempotent)")
    m.set_defaults(func=cmd_migrate)
    i = dbsub.add_parser("info", help="backend, applied migrations and relations")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)
    r = dbsub.add_parser("refresh", help="refresh the 15-min, hourly and daily rollups")
    r.add_argument("--start", type=timestamp_arg, default=None, metavar="TIMESTAMP",
                   help="TimescaleDB: start of the window (ISO 8601; default: the policy window)")
    r.add_argument("--end", type=timestamp_arg, default=None, metavar="TIMESTAMP",
                   help="TimescaleDB: end of the window (ISO 8601; default: now)")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.set_defaults(func=cmd_refresh)
    j = dbsub.add_parser("jobs", help="TimescaleDB policy jobs and their last run")
    j.add_argument("--json", action="store_true", help="machine-readable output")
    j.set_defaults(func=cmd_jobs)



def cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    with open_connection(ensure_local_database(settings), autocommit=True) as conn:
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
    settings = get_settings()
    with open_connection(ensure_local_database(settings), autocommit=True) as conn:
        info = database_info(conn)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        print(f"backend:            {info['backend']}")
        print(f"migrations applied: {info['migrations_applied']}")
        print(f"hypertables:        {', '.join(info['hypertables']) or '-'}")
        print(f"rollups:            {', '.join(info['rollups']) or '-'}")
        print(f"timescaledb:        {_timescaledb_line(info['timescaledb'])}")
        print("relations:")
        for rel in info["relations"]:
            print(f"  {rel['name']:<28} {rel['kind']}")
    return 0


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
    from heliosgrid.cli import CLIError
    from heliosgrid.db.rollups import RollupError, refresh_rollups

    settings = get_settings()
    with open_connection(ensure_local_database(settings), autocommit=True) as conn:
        try:
            result = refresh_rollups(conn, args.start, args.end)
        except RollupError as exc:
            raise CLIError(str(exc)) from None
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

    settings = get_settings()
    with open_connection(ensure_local_database(settings), autocommit=True) as conn:
        jobs = policy_job_status(conn)
    if args.json:
        print(json.dumps(jobs, indent=2, default=str))
        return 0
    if not jobs:
        print("no TimescaleDB policy jobs (plain-PostgreSQL backend: run `heliosgrid db refresh` and "
              "`heliosgrid retention apply` from the scheduler)")
        return 0
    for job in jobs:
        print(f"{job['job_id']:>6} {job['proc_name']:<38} {job['relation'] or '-':<14} "
              f"every {job['schedule_interval']}  last: {job['last_run_status'] or 'never'}"
              f"  failures: {job['total_failures']}")
    return 1 if any(job["failed"] for job in jobs) else 0
