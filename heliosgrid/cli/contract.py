"""``heliosgrid contract schema|check`` — the readings message contract (v1) as JSON Schema."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from heliosgrid.cli._args import add_action, add_group
from heliosgrid.contract import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "contract" / "reading_v1.schema.json"


def schema_text() -> str:
    """The checked-in form of the schema: 2-space indented JSON, sorted keys, final newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cs = add_group(sub, "contract", "message contract of the readings stream (JSON Schema)")
    s = add_action(cs, "schema", "print the JSON Schema of contract v1 (or write it with --write)", cmd_schema)
    s.add_argument("--write", action="store_true", help=f"write it to {SCHEMA_FILE.name} in the package")
    add_action(cs, "check", "exit 1 if the checked-in schema file differs from the code", cmd_check)


def cmd_schema(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.write:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_FILE}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.is_file() else ""
    if current != schema_text():
        print(f"{SCHEMA_FILE} is out of date: run `heliosgrid contract schema --write`", file=sys.stderr)
        return 1
    print(f"{SCHEMA_FILE.name} matches contract v1")
    return 0
