"""A seeded database for the contract checks (same seed as the API tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_seed import Seeded, db_url, free_port, seed, wait_port


@pytest.fixture(scope="module")
def contract_db(fresh_db: Callable[..., str]) -> Seeded:
    return seed(fresh_db())

__all__ = ["db_url", "free_port", "wait_port"]  # see api_seed.py: other tests import these from "conftest"
