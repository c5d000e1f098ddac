"""``heliosgrid contracts check [--json] [--as-of TS] [--dir DIR]``: verify the ODCS data contracts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from heliosgrid.cli._args import add_action, add_group, add_json_flag, on_local_db, timestamp_arg
from heliosgrid.contracts import check_contracts, format_report


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ps = add_group(sub, "contracts", "data contracts (ODCS): check them against the live database")
    c = add_action(ps, "check", "verify schema, freshness and quality rules; exit 1 on any violation", cmd_check)
    add_json_flag(c)
    c.add_argument("--as-of", type=timestamp_arg, default=None, metavar="TIMESTAMP",
                   help="measure freshness at this time (default: database now())")
    c.add_argument("--dir", type=Path, default=None, help="contracts directory (default: the repository's contracts/)")


def cmd_check(args: argparse.Namespace) -> int:
    results = on_local_db(lambda conn: check_contracts(conn, as_of=args.as_of, directory=args.dir))
    if args.json:
        print(json.dumps({"ok": all(r.ok for r in results), "contracts": [r.as_dict() for r in results]}, indent=2))
    else:
        print(format_report(results))
    return 0 if all(r.ok for r in results) else 1
