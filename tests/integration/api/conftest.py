"""Fixtures for the API integration tests: one seeded database and one live server per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from api_seed import Seeded, ServerThread, make_keys, seed

from heliosgrid.settings import load_settings
from tests.helpers import free_port


@pytest.fixture(scope="module")
def seeded(fresh_db: Callable[..., str]) -> Seeded:
    return seed(fresh_db())


@pytest.fixture(scope="module")
def keys(seeded: Seeded) -> dict[str, str]:
    return make_keys(seeded.url)


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[str]:
    settings = load_settings(api_rate_limit_per_min=100_000, api_max_page_size=500, api_max_range_days=31)
    with ServerThread(seeded.url, free_port(), settings) as server:
        yield server.base_url


@pytest.fixture
def client(api: str, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {keys['read']}"}, timeout=30) as c:
        yield c
