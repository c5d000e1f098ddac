"""The code base stays ruff- and mypy-clean, and test modules keep unique basenames."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", "heliosgrid", "producer", "consumer", "dags", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run(str(BIN / "mypy"), "heliosgrid", "producer", "consumer", "dags", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_test_modules_have_unique_basenames() -> None:
    """pytest's default import mode names test modules by basename: two equal names collide."""
    names = Counter(p.name for p in (REPO / "tests").rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []


def _python_files() -> list[Path]:
    return sorted(p for top in ("heliosgrid", "consumer", "producer") for p in (REPO / top).rglob("*.py"))


def test_no_module_over_450_lines() -> None:
    """Issue 12: a room that grows past ~450 lines is split before it takes more."""
    long = {str(p.relative_to(REPO)): n for p in _python_files() if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}


def test_no_function_over_80_lines() -> None:
    """Issue 12: functions stay short enough to read at once (target ~60, hard limit 80)."""
    import ast

    long: dict[str, int] = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    long[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = length
    assert long == {}
