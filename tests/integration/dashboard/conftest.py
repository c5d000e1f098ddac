"""Fixtures for the browser test: a seeded database and a live API server (see tests/integration/api/api_seed.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_seed import Seeded, ServerThread, make_keys, seed

from heliosgrid.settings import load_settings
from tests.helpers import free_port


@pytest.fixture(scope="module")
def dash_seeded(fresh_db: Callable[..., str]) -> Seeded:
    return seed(fresh_db())


@pytest.fixture(scope="module")
def dash_keys(dash_seeded: Seeded) -> dict[str, str]:
    return make_keys(dash_seeded.url)


@pytest.fixture(scope="module")
def dash_api(dash_seeded: Seeded) -> Iterator[str]:
    with ServerThread(dash_seeded.url, free_port(), load_settings(), poll_interval_s=0.5) as server:
        yield server.base_url
