"""A seeded database for the contract checks (same seed as the API tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_seed import Seeded, seed


@pytest.fixture(scope="module")
def contract_db(fresh_db: Callable[..., str]) -> Seeded:
    return seed(fresh_db())
