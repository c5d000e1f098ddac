"""``heliosgrid consumer run``: the ingest consumer (same as ``python -m consumer``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("consumer", help="ingest consumer: Kafka readings → database")
    psub = p.add_subparsers(dest="consumer_command", metavar="ACTION")
    psub.required = True
    run = psub.add_parser("run", help="consume until SIGTERM/SIGINT (configuration from HELIOS_* env)")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from consumer.main import main

    return main(["--log-level", args.log_level])
