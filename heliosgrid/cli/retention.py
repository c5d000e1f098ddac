"""``heliosgrid retention show|set|apply``: the DBA interface to data lifecycle policies.

See ``docs/dba.md``. ``set`` changes the catalogue and, on TimescaleDB, the retention and
compression jobs; ``apply`` enforces retention now (plain PostgreSQL, or TimescaleDB without
background workers).
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from heliosgrid.cli._args import add_action, add_group, add_json_flag, timestamp_arg
from heliosgrid.db.connection import ensure_local_database, open_connection
from heliosgrid.db.retention import (
    KEEP,
    RELATIONS,
    PolicyError,
    format_duration,
    parse_duration,
    set_policy,
    show_policies,
)
from heliosgrid.db.rollups import RollupError, apply_retention
from heliosgrid.settings import get_settings


def _duration_arg(text: str) -> timedelta | None:
    try:
        return parse_duration(text)
    except PolicyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None



def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rsub = add_group(sub, "retention", "retention and compression policies (DBA interface)")
    add_json_flag(add_action(rsub, "show", "the policy of every managed relation", cmd_show))
    st = add_action(
        rsub, "set", "change a relation's retention and/or compression", cmd_set,
        description="Durations: <n>h, <n>d or <n>w (e.g. 12h, 90d, 2w), or 'none'.",
    )
    st.add_argument("relation", choices=RELATIONS)
    st.add_argument("--drop-after", type=_duration_arg, default=KEEP, metavar="DURATION",
                    help="drop data older than this ('none' keeps it forever)")
    st.add_argument("--compress-after", type=_duration_arg, default=KEEP, metavar="DURATION",
                    help="compress raw chunks older than this (TimescaleDB only; 'none' disables)")
    add_json_flag(st, "print the resulting policy as JSON")
    st.set_defaults(_parser=st)
    ap = add_action(rsub, "apply", "drop data older than the policies now (returns what was dropped)", cmd_apply)
    ap.add_argument("--as-of", type=timestamp_arg, default=None, metavar="TIMESTAMP",
                    help="measure ages from this ISO 8601 time instead of now")
    add_json_flag(ap)


def cmd_show(args: argparse.Namespace) -> int:
    with open_connection(ensure_local_database(get_settings()), autocommit=True) as conn:
        policies = show_policies(conn)
    if args.json:
        print(json.dumps([p.as_json() for p in policies], indent=2))
        return 0
    print(f"{'relation':<14} {'drop after':>10} {'compress after':>14}  {'enforced by':<28} updated")
    for p in policies:
        if p.backend == "timescaledb":
            jobs = [f"retention job {p.retention_job_id}" if p.retention_job_id else "",
                    f"compression job {p.compression_job_id}" if p.compression_job_id else ""]
            enforced = ", ".join(j for j in jobs if j) or "-"
            if not p.in_sync:
                enforced += " (OUT OF SYNC: run `heliosgrid db migrate`)"
        else:
            enforced = "helios_apply_retention()" if p.drop_after else "-"
        updated = f"{p.updated_at:%Y-%m-%d %H:%M} by {p.updated_by}" if p.updated_at else ""
        print(f"{p.relation:<14} {format_duration(p.drop_after):>10} {format_duration(p.compress_after):>14}"
              f"  {enforced:<28} {updated}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    if args.drop_after is KEEP and args.compress_after is KEEP:
        args._parser.error("give --drop-after and/or --compress-after")
    with open_connection(ensure_local_database(get_settings()), autocommit=True) as conn:
        policy = set_policy(conn, args.relation, drop_after=args.drop_after, compress_after=args.compress_after)
    if args.json:
        print(json.dumps(policy.as_json(), indent=2))
    else:
        print(f"{policy.relation}: drop after {format_duration(policy.drop_after)}, "
              f"compress after {format_duration(policy.compress_after)} ({policy.backend})")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    from heliosgrid.cli import CLIError

    with open_connection(ensure_local_database(get_settings()), autocommit=True) as conn:
        try:
            dropped = apply_retention(conn, args.as_of)
        except RollupError as exc:
            raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps([{"relation": d.relation, "dropped": d.dropped} for d in dropped], indent=2))
    else:
        for d in dropped:
            print(f"dropped {d.dropped} from {d.relation}")
        print(f"{len(dropped)} partition(s)/chunk(s) dropped")
    return 0
