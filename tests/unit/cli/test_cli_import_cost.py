"""Registering a CLI subcommand group must not import heavy libraries.

``heliosgrid`` imports every ``heliosgrid/cli/<group>.py`` and calls its ``register(sub)`` to build
the parser, even for ``heliosgrid --help``; a module that imports pandas/pvlib/FastAPI at import
time makes every command start slowly. Heavy imports belong inside the command functions.

Checked per module, each in a fresh interpreter (so a failure names the module), and for the whole
parser (so a new module is covered without being listed).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LAZY_CLI_MODULES = ("alerts", "api", "apikey", "bench", "consumer", "contract", "contracts", "db", "fleet", "forecast",
                    "maintenance", "producer", "quality", "retention", "stack", "status")
HEAVY_MODULES = (
    "pandas", "pvlib", "pvanalytics", "fastapi", "starlette", "uvicorn", "psycopg_pool", "pyarrow",
    "prophet", "lightgbm", "statsforecast", "statsmodels", "sklearn", "airflow", "matplotlib", "kafka",
)

_PROBE = """
import argparse, importlib, json, sys
module = importlib.import_module("heliosgrid.cli." + sys.argv[1])
parser = argparse.ArgumentParser()
module.register(parser.add_subparsers())
heavy = json.loads(sys.argv[2])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


@pytest.mark.parametrize("name", LAZY_CLI_MODULES)
def test_registering_the_cli_group_imports_no_heavy_library(name: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, name, json.dumps(HEAVY_MODULES)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    heavy = sorted({m.split(".")[0] for m in json.loads(out)})
    assert heavy == [], f"heliosgrid/cli/{name}.py imports heavy modules while registering: {heavy}"


def test_building_the_whole_parser_imports_no_heavy_library() -> None:
    probe = (
        "import json, sys; import heliosgrid.cli as c; c.build_parser(); "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY_MODULES)!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == []
