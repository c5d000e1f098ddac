"""Argument types shared by the CLI groups (a ``_`` module: not a subcommand group itself)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def timestamp_arg(text: str) -> datetime:
    """An ISO 8601 timestamp; naive values are taken as UTC. Bad input → a clear argparse error."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid timestamp {text!r}: expected ISO 8601, e.g. 2026-01-31T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
