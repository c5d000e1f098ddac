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
