"""``heliosgrid`` command-line entry point.

Each module in this package that defines ``register(subparsers)`` adds one subcommand group
(``heliosgrid db …``, ``heliosgrid retention …``, …); this file only wires them together and
turns expected failures into one clear ``error:`` line and exit status 2 (never a traceback,
unless ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from heliosgrid import __version__
from heliosgrid.settings import SettingsError, redact_url


class CLIError(Exception):
    """A user-facing error: printed as ``error: <message>``, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heliosgrid", description="HeliosGrid: solar-plant monitoring, forecasting and maintenance."
    )
    parser.add_argument("--version", action="version", version=f"heliosgrid {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        return 130
    except (CLIError, SettingsError) as exc:
        print(f"error: {redact_url(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        from heliosgrid.db.connection import DatabaseUnavailable
        from heliosgrid.db.migrate import MigrationError

        if isinstance(exc, DatabaseUnavailable | MigrationError | ValueError):
            print(f"error: {redact_url(str(exc))}", file=sys.stderr)
            return 2
        print(f"error: {type(exc).__name__}: {redact_url(str(exc))} (run with --debug for details)", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
