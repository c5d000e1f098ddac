"""Auth, scopes, revocation, rate limiting and request limits (problem+json everywhere)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_seed import Seeded, ServerThread

from heliosgrid.api.auth import create_key, revoke_key
from heliosgrid.db.connection import open_connection
from heliosgrid.settings import load_settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration


def _problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = resp.json()
    assert body["status"] == status and body["detail"]
    return body


@pytest.mark.parametrize("path", ["/v1/sites", "/v1/readings", "/v1/alerts", "/v1/overview", "/v1/data-products", "/v1/stream"])
def test_every_data_endpoint_needs_a_key(api: str, path: str) -> None:
    body = _problem(httpx.get(api + path), 401)
    assert "missing API key" in str(body["detail"])


def test_wrong_and_malformed_keys_are_refused(api: str) -> None:
    assert "invalid API key" in str(_problem(httpx.get(api + "/v1/sites", headers={"X-API-Key": "nope"}), 401)["detail"])
    fake = "hg_deadbeef_" + "x" * 43
    _problem(httpx.get(api + "/v1/sites", headers={"Authorization": f"Bearer {fake}"}), 401)


def test_both_header_styles_work(api: str, keys: dict[str, str]) -> None:
    assert httpx.get(api + "/v1/sites", headers={"X-API-Key": keys["read"]}).status_code == 200
    assert httpx.get(api + "/v1/sites", headers={"Authorization": f"Bearer {keys['read']}"}).status_code == 200


def test_query_key_is_never_accepted(api: str, keys: dict[str, str]) -> None:
    for path in ("/v1/sites", "/v1/stream"):
        assert "not accepted in the URL" in str(_problem(httpx.get(api + path, params={"key": keys["read"]}), 401)["detail"])


def test_read_key_cannot_change_alerts(api: str, keys: dict[str, str], seeded: Seeded) -> None:
    body = _problem(
        httpx.post(f"{api}/v1/alerts/{seeded.open_alert_ids[0]}/acknowledge", headers={"X-API-Key": keys["read"]}), 403
    )
    assert "alerts:write" in str(body["detail"])


def test_alerts_write_without_read_cannot_list(api: str, keys: dict[str, str]) -> None:
    assert "'read'" in str(_problem(httpx.get(api + "/v1/alerts", headers={"X-API-Key": keys["alerts_only"]}), 403)["detail"])


def test_admin_implies_every_scope(api: str, keys: dict[str, str]) -> None:
    assert httpx.get(api + "/v1/alerts", headers={"X-API-Key": keys["admin"]}).status_code == 200
    assert httpx.post(api + "/v1/alerts/999999/resolve", headers={"X-API-Key": keys["admin"]}).status_code == 404


def test_revoked_key_is_refused_and_hash_only_is_stored(api: str, seeded: Seeded) -> None:
    with open_connection(seeded.url, autocommit=True) as conn:
        key = create_key(conn, "short-lived", ["read"])
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE key_id = %s", (key.key_id,)).fetchone()
        assert stored is not None and key.secret not in stored[0] and len(stored[0]) == 64
        assert httpx.get(api + "/v1/sites", headers={"X-API-Key": key.secret}).status_code == 200
        revoke_key(conn, key.key_id)
    assert "revoked" in str(_problem(httpx.get(api + "/v1/sites", headers={"X-API-Key": key.secret}), 401)["detail"])


def test_page_size_and_time_range_limits(client: httpx.Client) -> None:
    assert "maximum page size of 500" in str(_problem(client.get("/v1/readings", params={"limit": 501}), 422)["detail"])
    too_long = client.get("/v1/readings", params={"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"})
    assert "exceeds the maximum of 31 days" in str(_problem(too_long, 422)["detail"])
    backwards = client.get("/v1/rollups/1h", params={"start": "2026-03-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"})
    assert "must be after" in str(_problem(backwards, 422)["detail"])


def test_validation_errors_are_problem_json(client: httpx.Client) -> None:
    body = _problem(client.get("/v1/readings", params={"start": "yesterday"}), 422)
    assert "start" in str(body["detail"]) and body["errors"]
    _problem(client.get("/v1/readings", params={"cursor": "not-a-cursor"}), 422)
    _problem(client.get("/v1/sites/bad id!"), 422)
    _problem(client.get("/v1/forecasts"), 422)  # site_id required
    assert "no such endpoint" in str(_problem(client.get("/v1/nope"), 404)["detail"])


@pytest.fixture(scope="module")
def limited_api(seeded: Seeded) -> Iterator[str]:
    with ServerThread(seeded.url, free_port(), load_settings(api_rate_limit_per_min=5), failed_auth_per_min=3) as server:
        yield server.base_url


def test_rate_limit_per_key_with_retry_after(limited_api: str, keys: dict[str, str]) -> None:
    with httpx.Client(base_url=limited_api, headers={"X-API-Key": keys["read"]}) as c:
        codes = [c.get("/v1/sites").status_code for _ in range(5)]
        assert codes == [200] * 5
        limited = c.get("/v1/sites")
        body = _problem(limited, 429)
        assert int(limited.headers["Retry-After"]) >= 1
        assert "5 requests per minute" in str(body["detail"])
    # another key has its own bucket; health is never limited
    assert httpx.get(limited_api + "/v1/sites", headers={"X-API-Key": keys["write"]}).status_code == 200
    assert all(httpx.get(limited_api + "/v1/health").status_code == 200 for _ in range(7))


def test_failed_auth_limited_per_address_never_blocks_a_valid_key(limited_api: str, keys: dict[str, str]) -> None:
    bad = {"X-API-Key": "hg_deadbeef_" + "y" * 43}
    assert [httpx.get(limited_api + "/v1/sites", headers=bad).status_code for _ in range(3)] == [401] * 3
    blocked = httpx.get(limited_api + "/v1/sites", headers=bad)
    assert "too many failed authentications" in str(_problem(blocked, 429)["detail"])
    assert int(blocked.headers["Retry-After"]) >= 1
    # further failures from the address are blocked, whatever key they present; a valid key never is
    other_bad = {"X-API-Key": "hg_0badc0de_" + "z" * 43}
    assert httpx.get(limited_api + "/v1/sites", headers=other_bad).status_code == 429
    assert httpx.get(limited_api + "/v1/sites", headers={"X-API-Key": keys["admin"]}).status_code == 200
    assert httpx.get(limited_api + "/v1/health").status_code == 200
