"""``heliosgrid contracts check [--json] [--as-of TS] [--dir DIR]``: verify the ODCS data contracts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from heliosgrid.cli._args import timestamp_arg
from heliosgrid.contracts import check_contracts, format_report
from heliosgrid.db.connection import ensure_local_database, open_connection
from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("contracts", help="data contracts (ODCS): check them against the live database")
    ps = p.add_subparsers(dest="contracts_command", metavar="ACTION")
    ps.required = True
    c = ps.add_parser("check", help="verify schema, freshness and quality rules; exit 1 on any violation")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.add_argument("--as-of", type=timestamp_arg, default=None, metavar="TIMESTAMP",
                   help="measure freshness at this time (default: database now())")
    c.add_argument("--dir", type=Path, default=None, help="contracts directory (default: the repository's contracts/)")
    c.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    with open_connection(ensure_local_database(get_settings()), autocommit=True) as conn:
        results = check_contracts(conn, as_of=args.as_of, directory=args.dir)
    if args.json:
        print(json.dumps({"ok": all(r.ok for r in results), "contracts": [r.as_dict() for r in results]}, indent=2))
    else:
        print(format_report(results))
    return 0 if all(r.ok for r in results) else 1
