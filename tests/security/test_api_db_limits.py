"""Issue 11 #10: API queries are bounded by a statement_timeout, and ``bi.site_freshness``
(behind /v1/quality/freshness) reads one row per site, not the site's whole history.

The plan is checked with EXPLAIN ANALYZE row counts, not with timings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from api_seed import Seeded, ServerThread

from heliosgrid.db.connection import open_connection
from heliosgrid.settings import load_settings
from tests.helpers import free_port

pytestmark = pytest.mark.integration

HISTORY_ROWS = 40_000


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_a_blocked_query_ends_at_the_statement_timeout_with_a_503(sec_seeded: Seeded, sec_keys: dict[str, str]) -> None:
    """Before: no statement_timeout, the request (and its pooled connection) waited as long as
    the lock was held (here: the client gave up after 8 s)."""
    settings = load_settings(api_statement_timeout_ms=500)
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(sec_seeded.url) as conn:
            conn.execute("LOCK TABLE data_products IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold_lock, daemon=True)
    with ServerThread(sec_seeded.url, free_port(), settings) as server:
        holder.start()
        try:
            assert locked.wait(10)
            resp = httpx.get(server.base_url + "/v1/data-products", headers={"X-API-Key": sec_keys["read"]}, timeout=8)
        finally:
            release.set()
            holder.join(10)
        assert resp.status_code == 503, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "statement timeout" in resp.json()["detail"] and resp.headers["Retry-After"]
        # the pool's connections carry the setting
        ok = httpx.get(server.base_url + "/v1/data-products", headers={"X-API-Key": sec_keys["read"]}, timeout=8)
        assert ok.status_code == 200


def test_site_freshness_reads_one_row_per_site(sec_seeded: Seeded, reader: httpx.Client) -> None:
    """Before: max(ingested_at) per site had no index: every row of the site was read."""
    with open_connection(sec_seeded.url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO readings (device_id, site_id, ts, ac_power_kw, seq, ingested_at)
               SELECT 'alpha-hist-' || (i %% 10), 'alpha',
                      date_trunc('minute', now()) - interval '4 hours' - i * interval '1 second',
                      1.0, i, now() - interval '4 hours' - i * interval '1 second'
               FROM generate_series(1, %s) i""",
            (HISTORY_ROWS,),
        )
        conn.execute("ANALYZE readings")
        row = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM bi.site_freshness WHERE site_id = 'alpha'").fetchone()
        assert row is not None
        nodes = list(_nodes(row[0][0]["Plan"]))
        expected = conn.execute(
            "SELECT max(ts), (SELECT max(ingested_at) FROM readings WHERE site_id = 'alpha' AND ts = "
            "(SELECT max(ts) FROM readings WHERE site_id = 'alpha')) FROM readings WHERE site_id = 'alpha'"
        ).fetchone()
    scanned = sum(int(n.get("Actual Rows", 0)) * int(n.get("Actual Loops", 1))
                  for n in nodes if str(n.get("Relation Name", "")).startswith("readings"))
    kinds = {n["Node Type"] for n in nodes if str(n.get("Relation Name", "")).startswith("readings")}
    assert "Seq Scan" not in kinds and "Bitmap Heap Scan" not in kinds, kinds
    assert scanned <= 50, f"bi.site_freshness read {scanned} readings rows of a site with {HISTORY_ROWS + 180 * 2}"
    body = reader.get("/v1/quality/freshness", params={"site_id": "alpha"}).json()["items"][0]
    assert expected is not None and body["last_reading_ts"].replace("Z", "+00:00") == expected[0].isoformat()
