"""GET /v1/maintenance/coverage over a seeded database: the detectors the newest maintenance run of
each site could not evaluate, with the reason (migration 0120, heliosgrid.coverage)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from api_seed import Seeded

from heliosgrid.coverage import record_coverage
from heliosgrid.db.connection import open_connection

pytestmark = pytest.mark.integration

SOILING_WHY = "the model ratio scatters by 16 % on clear buckets (> 6 %): a soiling trend cannot be told from noise"


@pytest.fixture(scope="module")
def coverage_rows(seeded: Seeded) -> Seeded:
    now = seeded.now
    with open_connection(seeded.url, autocommit=True) as conn:
        old = {"sites": ["alpha"], "window_start": (now - timedelta(hours=2)).isoformat(),
               "window_end": (now - timedelta(hours=1)).isoformat(),
               "not_evaluated": {"alpha-inv2": {"string_outage": "stale: an older run"}}}
        record_coverage(conn, old)
        new = {"sites": ["alpha", "beta"], "window_start": (now - timedelta(hours=1)).isoformat(),
               "window_end": now.isoformat(),
               "not_evaluated": {"alpha-inv1": {"soiling": SOILING_WHY, "degradation": "needs ≥ 180 days of history"}}}
        assert record_coverage(conn, new) == 2
        assert record_coverage(conn, new) == 2  # same interval again: replaced
    return seeded


def test_coverage_lists_the_newest_run_per_site(client: httpx.Client, coverage_rows: Seeded) -> None:
    r = client.get("/v1/maintenance/coverage")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["site_id"], i["device_id"], i["detector"]) for i in items] == [
        ("alpha", "alpha-inv1", "degradation"), ("alpha", "alpha-inv1", "soiling"), ("beta", None, None),
    ]
    soiling = items[1]
    assert soiling["reason"] == SOILING_WHY
    assert soiling["window_end"].startswith(coverage_rows.now.strftime("%Y-%m-%dT%H:%M"))
    assert items[2]["reason"] is None  # beta: every detector evaluated

    only = client.get("/v1/maintenance/coverage", params={"site_id": "beta"}).json()["items"]
    assert [i["site_id"] for i in only] == ["beta"]
    csv = client.get("/v1/maintenance/coverage", params={"format": "csv"})
    assert csv.status_code == 200 and "soiling" in csv.text and csv.text.startswith("site_id,device_id,detector,reason")


def test_coverage_needs_the_read_scope(api: str, keys: dict[str, str]) -> None:
    assert httpx.get(f"{api}/v1/maintenance/coverage", timeout=10).status_code == 401
    r = httpx.get(f"{api}/v1/maintenance/coverage", headers={"Authorization": f"Bearer {keys['alerts_only']}"}, timeout=10)
    assert r.status_code == 403
    bad = httpx.get(f"{api}/v1/maintenance/coverage", params={"site_id": "bad site"},
                    headers={"Authorization": f"Bearer {keys['read']}"}, timeout=10)
    assert bad.status_code == 422
