"""``heliosgrid simulate realism [--json] [--write-docs]``: the simulator's noise vs the real series.

Prints :func:`heliosgrid.simulation.realism.compare` — the model-ratio scatter on clear buckets,
POA vs clear-sky, module temperature vs its steady-state model and its lag, and the cadence of
the real NREL series (``pvanalytics`` wheel) and of the simulator with its realistic noise
profile — and whether the simulator sits in the documented band. ``--write-docs`` rewrites the
table of ``docs/maintenance.md`` ("Simulator vs real series"). Exit 1 when a figure leaves its band.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "maintenance.md"
BEGIN = "<!-- simulator-vs-real:begin (heliosgrid simulate realism --write-docs) -->"
END = "<!-- simulator-vs-real:end -->"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="simulator: realism of its noise against the real series")
    ssub = p.add_subparsers(dest="simulate_command", required=True)
    r = ssub.add_parser("realism", help="real vs simulator scatter (ratio, POA, module temperature, cadence)")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.add_argument("--write-docs", action="store_true", help="rewrite the table in docs/maintenance.md")
    r.set_defaults(func=cmd_realism)


def replace_table(text: str, table: str) -> str:
    """``text`` with the part between the markers replaced by ``table`` (markers appended if absent)."""
    block = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def cmd_realism(args: argparse.Namespace) -> int:
    from heliosgrid.simulation.realism import compare, markdown_table

    result = compare()
    table = markdown_table(result)
    if args.write_docs:
        DOC.write_text(replace_table(DOC.read_text(encoding="utf-8"), table), encoding="utf-8")
    print(json.dumps(result, indent=2, default=str) if args.json else table)
    return 0 if all(b["inside"] for b in result["bands"].values()) else 1
