"""``make bench`` / ``python -m bench [NAME ...]``: run benchmarks, write bench/results/NAME.json.

A benchmark is a module ``bench/<name>.py`` defining ``run() -> dict``; every speed or memory
figure it returns is reported with the baseline measured in the same run and their ratio.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def available() -> list[str]:
    """The benchmark names: the modules of this package that define ``run()`` and do not start with ``_``
    (read from the source, so listing them imports nothing heavy)."""
    import bench

    here = Path(bench.__path__[0])
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__)
                  if not m.name.startswith("_") and "\ndef run(" in (here / f"{m.name}.py").read_text())


def _parse(argv: list[str]) -> list[str]:
    """The benchmark names asked for (all when none); argparse exits with a usage message for an unknown one."""
    names = available()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run benchmarks; each writes bench/results/NAME.json with every speed or "
        "memory figure as a ratio to a baseline measured in the same run.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(names)}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(names)}")
    return list(args.names) or names


def main(argv: list[str]) -> int:
    names = _parse(argv)
    RESULTS.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench {name}", flush=True)
        started = time.time()
        try:
            result = module.run()
        except Exception as exc:  # report and continue with the other benchmarks
            print(f"bench {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed += 1
            continue
        result.setdefault("benchmark", name)
        result.setdefault("measured_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)))
        out = RESULTS / f"{name}.json"
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(json.dumps(result, indent=2, default=str))
        print(f"-> {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
