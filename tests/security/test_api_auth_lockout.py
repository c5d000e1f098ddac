"""Issue 11 #8: failed logins never lock out a valid key; wrong-scope requests are rate-limited."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_seed import Seeded, ServerThread

from heliosgrid.settings import load_settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration

LIMIT = 5


@pytest.fixture(scope="module")
def strict_api(sec_seeded: Seeded) -> Iterator[str]:
    """``LIMIT`` failed authentications and ``LIMIT`` requests per key per minute."""
    with ServerThread(sec_seeded.url, free_port(), load_settings(api_rate_limit_per_min=LIMIT),
                      failed_auth_per_min=LIMIT) as server:
        yield server.base_url


def test_bad_keys_from_one_address_never_lock_out_a_valid_key(strict_api: str, sec_keys: dict[str, str]) -> None:
    """Before: 30 bad keys from a NAT address and every valid key behind it got 429."""
    bad = [{"X-API-Key": f"hg_{i:08x}_" + "y" * 43} for i in range(LIMIT + 2)]
    codes = [httpx.get(strict_api + "/v1/sites", headers=h, timeout=10).status_code for h in bad]
    assert codes[:LIMIT] == [401] * LIMIT and codes[LIMIT:] == [429, 429]  # failures are still throttled
    ok = httpx.get(strict_api + "/v1/sites", headers={"X-API-Key": sec_keys["write"]}, timeout=10)
    assert ok.status_code == 200, ok.text


def test_guessing_at_one_key_id_is_throttled_per_key_id(strict_api: str, sec_keys: dict[str, str]) -> None:
    key_id = sec_keys["admin"].split("_")[1]
    wrong = {"X-API-Key": f"hg_{key_id}_" + "w" * 43}
    codes = [httpx.get(strict_api + "/v1/sites", headers=wrong, timeout=10).status_code for _ in range(LIMIT + 1)]
    assert codes[-1] == 429
    assert httpx.get(strict_api + "/v1/sites", headers={"X-API-Key": sec_keys["admin"]}, timeout=10).status_code == 200


def test_wrong_scope_requests_are_rate_limited(sec_seeded: Seeded, sec_keys: dict[str, str]) -> None:
    """Before: a key without 'read' could send 403-ing requests without limit."""
    with ServerThread(sec_seeded.url, free_port(), load_settings(api_rate_limit_per_min=LIMIT),
                      failed_auth_per_min=LIMIT) as server, \
            httpx.Client(base_url=server.base_url, headers={"X-API-Key": sec_keys["alerts_only"]}, timeout=10) as c:
        codes = [c.get("/v1/alerts").status_code for _ in range(LIMIT + 2)]
    assert codes[:LIMIT] == [403] * LIMIT
    assert codes[LIMIT:] == [429, 429]
