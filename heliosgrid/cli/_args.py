"""What the CLI groups share (a ``_`` module: not a subcommand group itself): argument types,
the group/action parser scaffolding, the local database connection and JSON printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import psycopg

    from heliosgrid.settings import Settings

Command = Callable[[argparse.Namespace], int]
T = TypeVar("T")


def timestamp_arg(text: str) -> datetime:
    """An ISO 8601 timestamp; naive values are taken as UTC. Bad input → a clear argparse error."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid timestamp {text!r}: expected ISO 8601, e.g. 2026-01-31T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """``heliosgrid NAME ACTION``: a command group whose ACTION is required (``args.NAME_command``)."""
    group = sub.add_parser(name, help=help)
    actions = group.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    actions.required = True
    return actions


def add_action(
    actions: argparse._SubParsersAction, name: str, help: str, func: Command, **parser_kwargs: Any  # type: ignore[type-arg]
) -> argparse.ArgumentParser:
    """One ACTION of a group, run by ``func(args)``; add its arguments to the returned parser."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help, **parser_kwargs)
    parser.set_defaults(func=func)
    return parser


def add_json_flag(parser: argparse.ArgumentParser, help: str = "machine-readable output") -> None:
    """``--json``: print JSON instead of text."""
    parser.add_argument("--json", action="store_true", help=help)


def local_connection(settings: Settings | None = None) -> psycopg.Connection:
    """An autocommit connection to the configured database (``settings``, default the global
    ones), starting the embedded PostgreSQL first in local mode; use it as a context manager."""
    from heliosgrid.db.connection import ensure_local_database, open_connection
    from heliosgrid.settings import get_settings

    return open_connection(ensure_local_database(settings or get_settings()), autocommit=True)


def on_local_db(
    call: Callable[[psycopg.Connection], T],
    refused: type[Exception] | tuple[type[Exception], ...] = (),
    settings: Settings | None = None,
) -> T:
    """``call(conn)`` on a :func:`local_connection`; an exception of a ``refused`` type (the
    library's "bad request" error) becomes a :class:`~heliosgrid.cli.CLIError` with its message
    (``error: …``, exit status 2)."""
    from heliosgrid.cli import CLIError

    with local_connection(settings) as conn:
        try:
            return call(conn)
        except refused as exc:
            raise CLIError(str(exc)) from None


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (non-JSON values such as timestamps via ``str``)."""
    print(json.dumps(value, indent=2, default=str))


def answer(args: argparse.Namespace, value: T, print_text: Callable[[T], int | None]) -> int:
    """Print ``value`` as JSON with ``--json`` (exit status 0), else as ``print_text(value)``
    does (its return value is the exit status; ``None`` = 0)."""
    if args.json:
        print_json(value)
        return 0
    return print_text(value) or 0


def two_column_names(path: Path, power_flag: str) -> tuple[str, str] | None:
    """A two-column CSV's names, read as the timestamp and the power when the command line names neither (said on
    stderr); None otherwise (the caller then asks for the flags)."""
    from heliosgrid.csvread import two_columns

    pair = two_columns(path)
    if pair is not None:
        print(f"note: --timestamp-col/{power_flag} not given: the file's two columns {pair[0]!r} and {pair[1]!r} are "
              "read as the timestamp and the AC power", file=sys.stderr)
    return pair
