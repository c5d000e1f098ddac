"""``heliosgrid db migrate|info``."""

from __future__ import annotations

import argparse
import json

from heliosgrid.db.connection import open_connection, resolve_database_url
from heliosgrid.db.info import database_info
from heliosgrid.db.migrate import migrate
from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schema: migrate, info")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION")
    dbsub.required = True
    m = dbsub.add_parser("migrate", help="apply pending migrations (idempotent)")
    m.set_defaults(func=cmd_migrate)
    i = dbsub.add_parser("info", help="backend, applied migrations and relations")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    with open_connection(resolve_database_url(settings), autocommit=True) as conn:
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
    with open_connection(resolve_database_url(settings), autocommit=True) as conn:
        info = database_info(conn)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        print(f"backend:            {info['backend']}")
        print(f"migrations applied: {info['migrations_applied']}")
        print(f"hypertables:        {', '.join(info['hypertables']) or '-'}")
        print(f"rollups:            {', '.join(info['rollups']) or '-'}")
        print("relations:")
        for rel in info["relations"]:
            print(f"  {rel['name']:<28} {rel['kind']}")
    return 0
