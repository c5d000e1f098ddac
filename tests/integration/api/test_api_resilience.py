"""Database outage: the API answers 503 problem+json with Retry-After, never a traceback."""

from __future__ import annotations

import httpx
import pytest
from api_seed import ServerThread

from heliosgrid.settings import load_settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration


def test_database_down_gives_503_problems() -> None:
    dead_url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=1"
    with ServerThread(dead_url, free_port(), load_settings(), pool_timeout_s=1.5) as server:
        health = httpx.get(server.base_url + "/v1/health", timeout=20)
        assert health.status_code == 503 and health.json()["database"] == "unavailable"
        resp = httpx.get(server.base_url + "/v1/sites", headers={"X-API-Key": "hg_deadbeef_" + "x" * 43}, timeout=20)
        assert resp.status_code == 503
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.headers["Retry-After"] == "5"
        assert resp.json()["detail"] == "the database is unavailable; retry later"
        assert httpx.get(server.base_url + "/", timeout=20).status_code == 200  # the page itself still loads
