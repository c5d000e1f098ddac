"""``heliosgrid consumer run``: the ingest consumer (same as ``python -m consumer``)."""

from __future__ import annotations

import argparse

from heliosgrid.cli._args import add_action, add_group


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    psub = add_group(sub, "consumer", "ingest consumer: Kafka readings → database")
    run = add_action(psub, "run", "consume until SIGTERM/SIGINT (configuration from HELIOS_* env)", cmd_run)
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    rp = add_action(psub, "replay-dlq", "re-publish dead-letter messages to the readings topic", cmd_replay_dlq)
    rp.add_argument("--reason", action="append", metavar="CODE",
                    help="only messages with this reason_code (repeatable; default: all)")
    rp.add_argument("--max", type=int, default=None, metavar="N", help="stop after N DLQ messages")
    rp.add_argument("--idle-timeout-s", type=float, default=5.0, help="stop when the DLQ is idle this long")


def cmd_run(args: argparse.Namespace) -> int:
    from consumer.main import main

    return main(["--log-level", args.log_level])


def cmd_replay_dlq(args: argparse.Namespace) -> int:
    from heliosgrid.cli import CLIError
    from heliosgrid.contract import REASON_CODES
    from heliosgrid.ingest.replay import replay_dlq
    from heliosgrid.settings import get_settings

    for code in args.reason or []:
        if code not in REASON_CODES:
            raise CLIError(f"unknown reason code {code!r}; one of: {', '.join(sorted(REASON_CODES))}")
    if args.max is not None and args.max < 1:
        raise CLIError("--max must be a positive integer")
    settings = get_settings()
    result = replay_dlq(settings, set(args.reason) if args.reason else None, args.max, args.idle_timeout_s)
    print(f"replayed {result.total_replayed} message(s) from {settings.topic_dlq} to {settings.topic_readings}")
    for code, n in sorted(result.replayed.items()):
        print(f"  {code:<28} {n}")
    if result.skipped:
        print("skipped (other reasons): " + ", ".join(f"{c} {n}" for c, n in sorted(result.skipped.items())))
    return 0
