"""Fixtures for the security suite (issue 11): a seeded database on the shared PostgreSQL and the
real FastAPI app served by uvicorn (see tests/integration/api/api_seed.py).

Every test here reproduces one finding of the hostile-integrator probe and fails on the code
before its fix."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))

from api_seed import Seeded, ServerThread, make_keys, seed

from heliosgrid.settings import load_settings
from tests.helpers import free_port


@pytest.fixture(scope="module")
def sec_seeded(fresh_db: Callable[..., str]) -> Seeded:
    return seed(fresh_db())


@pytest.fixture(scope="module")
def sec_keys(sec_seeded: Seeded) -> dict[str, str]:
    return make_keys(sec_seeded.url)


@pytest.fixture(scope="module")
def sec_api(sec_seeded: Seeded) -> Iterator[str]:
    settings = load_settings(api_rate_limit_per_min=100_000, api_max_page_size=500, api_max_range_days=31,
                             api_stream_key_recheck_s=0.5)
    with ServerThread(sec_seeded.url, free_port(), settings, poll_interval_s=0.2) as server:
        yield server.base_url


@pytest.fixture
def reader(sec_api: str, sec_keys: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sec_api, headers={"Authorization": f"Bearer {sec_keys['read']}"}, timeout=30) as c:
        yield c
