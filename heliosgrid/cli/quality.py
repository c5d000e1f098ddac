"""``heliosgrid quality run [--since ISO] [--until ISO] [--site ID] [--json] [--no-alerts] [--strict]``.

Runs the same data-quality and freshness checks as the Airflow quality DAG over a window
(default: the last whole 15 minutes), stores them in ``dq_results`` and raises/resolves quality
alerts. Exit status 0 when the checks ran (1 with ``--strict`` if any check failed); invalid
input is one ``error:`` line with exit status 2.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from heliosgrid.cli._args import add_action, add_group, add_json_flag, on_local_db, print_json
from heliosgrid.settings import get_settings


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {text!r} (e.g. 2026-06-21T11:00:00Z)") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"timestamp needs a UTC offset or Z: {text!r}")
    return value.astimezone(UTC)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    qsub = add_group(sub, "quality", "data-quality and freshness checks")
    run = add_action(qsub, "run", "run every check over a window and store the results", cmd_run)
    run.add_argument("--since", type=_timestamp, help="window start, ISO 8601 (default: --until minus 15 min)")
    run.add_argument("--until", type=_timestamp, help="window end, ISO 8601 (default: now, floored to 15 min)")
    run.add_argument("--site", action="append", dest="sites", metavar="SITE_ID", help="only this site (repeatable)")
    add_json_flag(run, "machine-readable summary")
    run.add_argument("--no-alerts", action="store_true", help="store results but do not raise/resolve alerts")
    run.add_argument("--strict", action="store_true", help="exit status 1 when any check fails")


def cmd_run(args: argparse.Namespace) -> int:
    from heliosgrid.quality import QualityInputError, run_quality

    until = args.until
    if until is None:
        now = datetime.now(UTC)
        until = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    since = args.since or until - timedelta(minutes=15)
    settings = get_settings()
    report = on_local_db(
        lambda conn: run_quality(conn, settings, since, until, site_ids=args.sites, run_id="cli", alerts=not args.no_alerts),
        QualityInputError, settings,
    )
    summary = report.summary()
    if args.json:
        print_json(summary)
    else:
        print(f"window  {summary['window_start']} .. {summary['window_end']}")
        print(f"checks  {summary['checks']}  passed {summary['passed']}  failed {summary['failed']}")
        for f in summary["failures"]:
            scope = f"{f['site_id']}/{f['device_id']}" if f["device_id"] else f["site_id"]
            print(f"  FAIL {f['check']:<20} {scope:<28} measured={f['measured_value']} limit={f['threshold']}")
        print(f"alerts  raised {summary['alerts_raised']}  resolved {summary['alerts_resolved']}")
    return 1 if args.strict and summary["failed"] else 0
