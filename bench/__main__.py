"""``make bench`` / ``python -m bench [NAME ...]``: run benchmarks, write bench/results/NAME.json.

A benchmark is a module ``bench/<name>.py`` defining ``run() -> dict``; every speed or memory
figure it returns is reported with the baseline measured in the same run and their ratio.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def main(argv: list[str]) -> int:
    import bench

    names = argv or sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    RESULTS.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
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
