"""``heliosgrid bench NAME [--json]``: run one benchmark of ``bench/`` and write its JSON result.

Same modules as ``make bench`` / ``python -m bench NAME`` (``bench/<name>.py`` with
``run() -> dict``); results go to ``bench/results/<name>.json``. Sizes can be reduced for a
quick look with ``--messages`` (benchmarks whose ``run`` accepts that parameter, e.g. ingest);
``--duration S`` sets the run time of benchmarks whose ``run`` takes ``duration_s`` (e.g. soak).
``--backend timescaledb|postgres|both`` picks the storage backend of those that take it.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="run a benchmark (bench/<name>.py) and write bench/results/<name>.json")
    p.add_argument("name", help="benchmark name, e.g. ingest")
    p.add_argument("--json", action="store_true", help="print only the JSON result")
    p.add_argument("--messages", type=int, default=None, help="workload size for benchmarks that take it")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="run time in seconds for benchmarks that take it (e.g. soak)")
    p.add_argument("--backend", choices=["timescaledb", "postgres", "both"], default=None,
                   help="storage backend for benchmarks that take it (ingest: default both)")
    p.set_defaults(func=cmd_bench)


def _load(name: str) -> Any:
    from heliosgrid.cli import CLIError

    if not name.isidentifier() or name.startswith("_"):
        raise CLIError(f"not a benchmark name: {name!r}")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError:
        raise CLIError(f"no benchmark {name!r}; available: {', '.join(available_benchmarks()) or 'none'}") from None
    if not callable(getattr(module, "run", None)):
        raise CLIError(f"bench/{name}.py is a helper, not a benchmark; available: {', '.join(available_benchmarks())}")
    return module


def available_benchmarks() -> list[str]:
    """Names of the ``bench/<name>.py`` modules that define ``run()`` (helpers such as
    ``bi_queries`` are left out), read from the source without importing them."""
    return sorted(p.stem for p in (REPO / "bench").glob("*.py")
                  if not p.stem.startswith("_") and "\ndef run(" in p.read_text(encoding="utf-8"))


def cmd_bench(args: argparse.Namespace) -> int:
    from heliosgrid.cli import CLIError

    module = _load(args.name)
    kwargs: dict[str, Any] = {}
    if args.messages is not None:
        if args.messages < 1:
            raise CLIError("--messages must be a positive integer")
        if "messages" not in inspect.signature(module.run).parameters:
            raise CLIError(f"benchmark {args.name!r} does not take --messages")
        kwargs["messages"] = args.messages
    if args.duration is not None:
        if args.duration <= 0:
            raise CLIError("--duration must be a positive number of seconds")
        if "duration_s" not in inspect.signature(module.run).parameters:
            raise CLIError(f"benchmark {args.name!r} does not take --duration")
        kwargs["duration_s"] = args.duration
    if args.backend is not None:
        if "backend" not in inspect.signature(module.run).parameters:
            raise CLIError(f"benchmark {args.name!r} does not take --backend")
        kwargs["backend"] = args.backend
    started = time.time()
    if not args.json:
        print(f"running benchmark {args.name} …", file=sys.stderr)
    result: dict[str, Any] = module.run(**kwargs)
    result.setdefault("benchmark", args.name)
    result.setdefault("measured_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)))
    out = REPO / "bench" / "results" / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str)
    out.write_text(text + "\n")
    print(text)
    if not args.json:
        print(f"-> {out}", file=sys.stderr)
    return 0
