"""Contract tests for every /v1 endpoint against real PostgreSQL with seeded data."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from api_seed import HISTORY_MIN, INVERTERS, Seeded, ac_power_kw, db_scalar

pytestmark = pytest.mark.integration


def iso(ts: object) -> str:
    return ts.isoformat()  # type: ignore[attr-defined]


def test_health_needs_no_key(api: str) -> None:
    r = httpx.get(f"{api}/v1/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_sites_and_devices(client: httpx.Client) -> None:
    sites = client.get("/v1/sites").json()["items"]
    assert [s["site_id"] for s in sites] == ["alpha", "beta"]
    assert sites[0]["dc_capacity_kw"] == 200
    assert client.get("/v1/sites/beta").json()["timezone"] == "Europe/Madrid"
    devices = client.get("/v1/sites/alpha/devices").json()["items"]
    assert {d["device_id"] for d in devices} == {"alpha-inv1", "alpha-inv2", "alpha-ws"}
    assert len(client.get("/v1/devices").json()["items"]) == 4
    missing = client.get("/v1/sites/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "nope" in missing.json()["detail"]


def test_readings_keyset_pagination_returns_every_row_once(client: httpx.Client, seeded: Seeded) -> None:
    params = {"start": iso(seeded.now - timedelta(hours=4)), "end": iso(seeded.now + timedelta(minutes=1)), "limit": 250}
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        page = client.get("/v1/readings", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        seen += [(r["ts"], r["device_id"]) for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == seeded.reading_count == HISTORY_MIN * len(INVERTERS)
    assert len(set(seen)) == len(seen)
    assert seen == sorted(seen)
    assert pages == -(-seeded.reading_count // 250)


def test_readings_filter_by_device(client: httpx.Client, seeded: Seeded) -> None:
    page = client.get("/v1/readings", params={"device_id": "beta-inv1", "start": iso(seeded.now - timedelta(hours=4)),
                                              "limit": 500}).json()
    assert len(page["items"]) == HISTORY_MIN
    assert all(r["ac_power_kw"] == ac_power_kw("beta-inv1") for r in page["items"])


def test_latest_reading_per_device(client: httpx.Client, seeded: Seeded) -> None:
    latest = client.get("/v1/readings/latest").json()["items"]
    assert {r["device_id"] for r in latest} == set(INVERTERS)
    assert all(r["ts"].replace("Z", "+00:00") == iso(seeded.now - timedelta(minutes=1)) for r in latest)
    beta = client.get("/v1/readings/latest", params={"site_id": "beta", "format": "csv"}).text.splitlines()
    assert len(beta) == 2 and beta[1].startswith("beta-inv1,beta,")
    assert client.get("/v1/readings/latest", params={"max_age_s": 0}).status_code == 422


def test_rollups_per_device_and_per_site(client: httpx.Client, seeded: Seeded) -> None:
    rng = {"start": iso(seeded.now - timedelta(hours=4)), "end": iso(seeded.now + timedelta(hours=1))}
    resp = client.get("/v1/rollups/1h", params={**rng, "device_id": "alpha-inv1"})
    assert resp.status_code == 200, resp.text
    per_device = resp.json()["items"]
    total = sum(r["energy_kwh"] for r in per_device)
    # Rollup semantics: each touched 15-min bucket counts mean power x 0.25 h, partial or not.
    first = seeded.now - timedelta(minutes=HISTORY_MIN)
    buckets = {(first + timedelta(minutes=i)).replace(minute=(first + timedelta(minutes=i)).minute // 15 * 15)
               for i in range(HISTORY_MIN)}
    assert total == pytest.approx(ac_power_kw("alpha-inv1") * 0.25 * len(buckets), rel=1e-6)
    per_site = client.get("/v1/rollups/15m", params={**rng, "group_by": "site", "site_id": "alpha"}).json()["items"]
    assert per_site, "site aggregates expected"
    full = [r for r in per_site if r["completeness"] == 1.0]
    assert all(r["ac_power_kw"] == pytest.approx(ac_power_kw("alpha-inv1") + ac_power_kw("alpha-inv2")) for r in full)
    bad = client.get("/v1/rollups/15m", params={"group_by": "site", "device_id": "alpha-inv1"})
    assert bad.status_code == 422
    assert client.get("/v1/rollups/5m").status_code == 422


def test_rollup_pagination_per_site(client: httpx.Client, seeded: Seeded) -> None:
    rng = {"start": iso(seeded.now - timedelta(hours=4)), "end": iso(seeded.now + timedelta(hours=1)), "group_by": "site"}
    everything = client.get("/v1/rollups/15m", params={**rng, "limit": 500}).json()["items"]
    paged: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = client.get("/v1/rollups/15m", params={**rng, "limit": 5, **({"cursor": cursor} if cursor else {})}).json()
        paged += [(r["bucket"], r["site_id"]) for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == [(r["bucket"], r["site_id"]) for r in everything]


def test_kpis_and_overview(client: httpx.Client, seeded: Seeded) -> None:
    kpis = client.get("/v1/kpis", params={"site_id": "alpha", "start": iso(seeded.now - timedelta(days=2))}).json()["items"]
    assert kpis and kpis[-1]["energy_kwh"] > 0
    assert 0 < kpis[-1]["performance_ratio"] < 2
    ov = client.get("/v1/overview", params={"as_of": iso(seeded.now)}).json()["items"]
    alpha = next(o for o in ov if o["site_id"] == "alpha")
    assert alpha["current_ac_power_kw"] == pytest.approx(ac_power_kw("alpha-inv1") + ac_power_kw("alpha-inv2"))
    assert alpha["open_alerts"] == 1
    assert alpha["forecast_p10_kw"] <= alpha["forecast_p50_kw"] <= alpha["forecast_p90_kw"]
    assert alpha["expected_ac_power_kw"] > 0
    assert alpha["freshness_age_s"] == pytest.approx(60.0)


def test_forecast_latest_and_as_of(client: httpx.Client, seeded: Seeded) -> None:
    first, second = seeded.forecast_issues
    latest = client.get("/v1/forecasts", params={"site_id": "alpha"}).json()
    assert latest["issued_at"].replace("Z", "+00:00") == iso(second)
    assert all(p["p10_kw"] <= p["p50_kw"] <= p["p90_kw"] for p in latest["items"])
    assert {p["point_kw"] for p in latest["items"]} == {111.0}  # the expected value next to the median
    older = client.get("/v1/forecasts", params={"site_id": "alpha", "issued_at": iso(first + timedelta(minutes=30))}).json()
    assert older["issued_at"].replace("Z", "+00:00") == iso(first)
    assert older["items"][0]["p50_kw"] == 115.0 and older["items"][0]["point_kw"] is None
    none = client.get("/v1/forecasts", params={"site_id": "beta"}).json()
    assert none["issued_at"] is None and none["items"] == []


def test_forecast_accuracy(client: httpx.Client, seeded: Seeded) -> None:
    body = client.get("/v1/forecasts/accuracy", params={"site_id": "alpha", "start": iso(seeded.now - timedelta(hours=3))}).json()
    assert body["summary"]["n"] == len(body["items"]) > 0
    full = [r for r in body["items"] if r["actual_kw"] == pytest.approx(120.0)]
    assert full and all(r["error_kw"] == pytest.approx(r["p50_kw"] - 120.0) for r in full)
    assert 0 <= body["summary"]["p10_p90_coverage"] <= 1


def test_alert_listing_filters(client: httpx.Client, seeded: Seeded) -> None:
    active = client.get("/v1/alerts", params={"state": "active"}).json()["items"]
    assert sorted(a["alert_id"] for a in active) == sorted(seeded.open_alert_ids)
    resolved = client.get("/v1/alerts", params={"state": "resolved"}).json()["items"]
    assert [a["alert_id"] for a in resolved] == [seeded.resolved_alert_id]
    assert client.get("/v1/alerts", params={"site_id": "beta"}).json()["items"][0]["fault_type"] == "soiling"
    one = client.get(f"/v1/alerts/{seeded.open_alert_ids[0]}").json()
    assert one["state"] == "open"
    assert client.get("/v1/alerts/999999").status_code == 404
    page = client.get("/v1/alerts", params={"limit": 2}).json()
    rest = client.get("/v1/alerts", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) + len(rest["items"]) == 3 and rest["next_cursor"] is None


def test_alert_acknowledge_then_resolve(api: str, keys: dict[str, str], seeded: Seeded) -> None:
    alert_id = seeded.open_alert_ids[1]
    with httpx.Client(base_url=api, headers={"X-API-Key": keys["write"]}) as c:
        ack = c.post(f"/v1/alerts/{alert_id}/acknowledge")
        assert ack.status_code == 200, ack.text
        assert ack.json()["state"] == "acknowledged"
        assert ack.json()["acknowledged_by"].startswith("test-operator")
        assert db_scalar(seeded.url, "SELECT state FROM alerts WHERE alert_id = %s", (alert_id,)) == "acknowledged"
        res = c.post(f"/v1/alerts/{alert_id}/resolve")
        assert res.json()["state"] == "resolved"
        again = c.post(f"/v1/alerts/{alert_id}/acknowledge")
        assert again.status_code == 409
        assert "already resolved" in again.json()["detail"]
        assert c.post("/v1/alerts/999999/resolve").status_code == 404


def test_quality_results_and_freshness(client: httpx.Client, seeded: Seeded) -> None:
    failed = client.get("/v1/quality/results", params={"passed": "false"}).json()["items"]
    assert [(r["check_name"], r["site_id"]) for r in failed] == [("range_ac_power", "alpha")]
    page = client.get("/v1/quality/results", params={"limit": 3}).json()
    rest = client.get("/v1/quality/results", params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) + len(rest["items"]) == 4
    fresh = {f["site_id"]: f for f in client.get("/v1/quality/freshness").json()["items"]}
    assert fresh["alpha"]["last_reading_ts"].replace("Z", "+00:00") == iso(seeded.now - timedelta(minutes=1))
    assert fresh["alpha"]["sla_s"] == 300


def test_data_product_catalogue(client: httpx.Client) -> None:
    products = client.get("/v1/data-products").json()["items"]
    assert {p["name"] for p in products} == {"readings", "rollups", "forecasts", "alerts", "quality"}
    detail = client.get("/v1/data-products/readings").json()
    assert detail["contract"]["kind"] == "DataContract"
    assert detail["contract"]["schema"][0]["name"] == "readings"
    assert client.get("/v1/data-products/nope").status_code == 404


def test_docs_and_openapi_need_no_key(api: str) -> None:
    assert httpx.get(f"{api}/openapi.json").json()["info"]["title"] == "HeliosGrid API"
    assert httpx.get(f"{api}/docs").status_code == 200
    assert "HeliosGrid" in httpx.get(f"{api}/").text
