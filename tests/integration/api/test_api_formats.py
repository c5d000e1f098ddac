"""CSV and Parquet round-trips, content negotiation, and the checked-in OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from api_seed import HISTORY_MIN, Seeded

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def _params(seeded: Seeded) -> dict[str, str | int]:
    return {"device_id": "alpha-inv1", "start": (seeded.now - timedelta(hours=4)).isoformat(), "limit": 500}


def test_csv_round_trip_equals_json(client: httpx.Client, seeded: Seeded) -> None:
    as_json = client.get("/v1/readings", params=_params(seeded)).json()["items"]
    resp = client.get("/v1/readings", params={**_params(seeded), "format": "csv"})
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(rows) == len(as_json) == HISTORY_MIN
    for got, want in zip(rows, as_json, strict=True):
        assert got["ts"] == want["ts"] and got["device_id"] == want["device_id"]
        assert float(got["ac_power_kw"]) == want["ac_power_kw"]
        assert int(got["seq"]) == want["seq"]


def test_parquet_round_trip_keeps_types(client: httpx.Client, seeded: Seeded) -> None:
    as_json = client.get("/v1/readings", params=_params(seeded)).json()["items"]
    resp = client.get("/v1/readings", params=_params(seeded), headers={"Accept": "application/vnd.apache.parquet"})
    assert resp.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(resp.content))
    assert table.num_rows == len(as_json)
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("ac_power_kw").type == pa.float64()
    assert table.schema.field("seq").type == pa.int64()
    assert table.column("ac_power_kw").to_pylist() == [r["ac_power_kw"] for r in as_json]
    first_ts = table.column("ts")[0].as_py()
    assert first_ts.isoformat().replace("+00:00", "Z") == as_json[0]["ts"]


def test_paginated_csv_carries_cursor_header(client: httpx.Client, seeded: Seeded) -> None:
    resp = client.get("/v1/readings", params={**_params(seeded), "limit": 10}, headers={"Accept": "text/csv"})
    assert resp.headers["X-Next-Cursor"] and 'rel="next"' in resp.headers["Link"]
    nxt = client.get("/v1/readings", params={**_params(seeded), "limit": 10, "cursor": resp.headers["X-Next-Cursor"],
                                            "format": "csv"})
    first_page = list(csv.DictReader(io.StringIO(resp.text)))
    second_page = list(csv.DictReader(io.StringIO(nxt.text)))
    assert first_page[-1]["ts"] < second_page[0]["ts"]


def test_empty_result_still_has_a_parquet_schema(client: httpx.Client) -> None:
    resp = client.get("/v1/alerts", params={"site_id": "nowhere", "format": "parquet"})
    table = pq.read_table(io.BytesIO(resp.content))
    assert table.num_rows == 0 and "alert_id" in table.column_names and table.schema.field("alert_id").type == pa.int64()


def test_json_columns_in_csv_are_json_text(client: httpx.Client) -> None:
    rows = list(csv.DictReader(io.StringIO(client.get("/v1/alerts", params={"format": "csv"}).text)))
    assert rows and all(json.loads(r["evidence"]) == {} for r in rows)


def test_checked_in_openapi_matches_the_app(api: str) -> None:
    served = httpx.get(api + "/openapi.json").json()
    checked_in = json.loads((REPO / "openapi.json").read_text(encoding="utf-8"))
    assert served == checked_in, "openapi.json is stale: run `heliosgrid api --write-openapi openapi.json`"
