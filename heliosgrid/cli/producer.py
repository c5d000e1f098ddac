"""``heliosgrid producer realtime|backfill|replay|bad`` — the same modes as ``python -m producer``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from producer.cli import add_mode_parsers

    p = sub.add_parser("producer", help="simulated/replayed readings to Kafka (python -m producer)")
    modes = p.add_subparsers(dest="mode", metavar="MODE")
    modes.required = True
    add_mode_parsers(modes)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import logging

    from heliosgrid.cli import CLIError
    from producer.cli import UsageError, run_from_args

    if not args.debug:
        logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        return run_from_args(args)
    except UsageError as exc:
        raise CLIError(str(exc)) from None
