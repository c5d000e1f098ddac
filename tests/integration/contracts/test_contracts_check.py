"""`heliosgrid contracts check` and check_contracts() against live databases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from api_seed import Seeded

from heliosgrid.contracts import DEFAULT_CONTRACTS_DIR, check_contracts, freshness_sla_s, load_contract
from heliosgrid.db.connection import open_connection

pytestmark = pytest.mark.integration
HELIOSGRID = str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "heliosgrid")
PRODUCTS = {"readings", "rollups", "forecasts", "alerts", "quality"}


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELIOS_DATABASE_URL": url}
    return subprocess.run([HELIOSGRID, "contracts", "check", *args], env=env, capture_output=True, text=True, timeout=120)


def test_seeded_database_satisfies_every_contract(contract_db: Seeded) -> None:
    with open_connection(contract_db.url, autocommit=True) as conn:
        results = check_contracts(conn, as_of=contract_db.now)
    assert {r.name for r in results} == PRODUCTS
    assert [f"{r.name}: {f.name}: {f.detail}" for r in results for f in r.violations] == []
    kinds = {f.kind for r in results for f in r.findings}
    assert kinds == {"schema", "quality", "freshness"}


def test_cli_passes_then_fails_on_a_quality_violation(contract_db: Seeded) -> None:
    ok = _cli(contract_db.url, "--as-of", contract_db.now.isoformat(), "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] is True and {c["name"] for c in report["contracts"]} == PRODUCTS
    with psycopg.connect(contract_db.url, autocommit=True) as conn:
        conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq) "
                     "VALUES ('alpha-inv1', %s, 'alpha', -50, 99999)", (contract_db.now - timedelta(seconds=30),))
    try:
        bad = _cli(contract_db.url, "--as-of", contract_db.now.isoformat())
        assert bad.returncode == 1
        assert "FAIL readings" in bad.stdout
        assert "readings.ac_power_not_negative: measured 1, mustBe 0" in bad.stdout
        assert "4/5 contracts satisfied; 1 violated" in bad.stdout
        assert "Traceback" not in bad.stderr
    finally:
        with psycopg.connect(contract_db.url, autocommit=True) as conn:
            conn.execute("DELETE FROM readings WHERE seq = 99999")


def test_stale_data_violates_freshness(contract_db: Seeded) -> None:
    with open_connection(contract_db.url, autocommit=True) as conn:
        results = check_contracts(conn, as_of=contract_db.now + timedelta(days=1))
    stale = {(r.name, f.kind) for r in results for f in r.violations}
    assert ("readings", "freshness") in stale and ("forecasts", "freshness") in stale
    readings = next(r for r in results if r.name == "readings")
    finding = next(f for f in readings.violations if f.kind == "freshness")
    assert finding.measured == pytest.approx(86400 + 60) and "SLA 300 s" in finding.detail


def test_schema_drift_and_broken_contracts_are_reported(contract_db: Seeded, tmp_path: Path) -> None:
    doc = yaml.safe_load((DEFAULT_CONTRACTS_DIR / "readings.yaml").read_text(encoding="utf-8"))
    props = doc["schema"][0]["properties"]
    props.append({"name": "inverter_temp_c", "logicalType": "number", "physicalType": "double precision"})
    next(p for p in props if p["name"] == "seq")["physicalType"] = "text"
    next(p for p in props if p["name"] == "seq")["logicalType"] = "string"
    (tmp_path / "readings.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("apiVersion: v2\nkind: Something\nschema: 3\n", encoding="utf-8")
    with open_connection(contract_db.url, autocommit=True) as conn:
        results = {r.name: r for r in check_contracts(conn, as_of=contract_db.now, directory=tmp_path)}
    drift = [f.detail for f in results["readings"].violations]
    assert "column readings.inverter_temp_c is missing" in drift
    assert any("readings.seq is bigint, incompatible" in d for d in drift)
    broken = results["broken"].violations[0]
    assert broken.kind == "contract" and "kind must be DataContract" in broken.detail and "apiVersion" in broken.detail


def test_catalogue_matches_the_contracts(contract_db: Seeded) -> None:
    with psycopg.connect(contract_db.url, autocommit=True) as conn:
        rows = conn.execute("SELECT name, contract_path, freshness_sla_s, relation FROM data_products").fetchall()
    assert {r[0] for r in rows} == PRODUCTS
    repo = DEFAULT_CONTRACTS_DIR.parent
    for name, path, sla_s, relation in rows:
        doc = load_contract(repo / path)
        assert doc["name"] == name
        assert relation in {o.get("physicalName", o["name"]) for o in doc["schema"]}
        latency = freshness_sla_s(doc)
        if latency is not None:
            assert latency == sla_s, name


def test_timescaledb_schema_satisfies_every_contract(timescale_db: str) -> None:
    with open_connection(timescale_db, autocommit=True) as conn:
        results = check_contracts(conn)
    schema_violations = [f"{r.name}: {f.detail}" for r in results for f in r.violations if f.kind != "freshness"]
    assert schema_violations == []


def test_cli_without_database_is_a_clear_error() -> None:
    if shutil.which(HELIOSGRID) is None:
        pytest.fail("heliosgrid CLI not installed in .venv")
    out = _cli("postgresql://postgres@127.0.0.1:1/nope?connect_timeout=2")
    assert out.returncode == 2 and out.stderr.startswith("error: cannot connect") and "Traceback" not in out.stderr


def test_future_readings_rule_judges_skew_against_ingestion_not_the_check_time(contract_db: Seeded) -> None:
    """A check of a past window must not flag readings that simply arrived later; real skew is flagged."""
    later = contract_db.now + timedelta(hours=1)
    skewed = contract_db.now - timedelta(minutes=1)
    with psycopg.connect(contract_db.url, autocommit=True) as conn:
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (later, later + timedelta(minutes=10)))
        # arrived after the check time (an hour later): not a violation of a check as of `now`
        conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq, ingested_at) "
                     "VALUES ('alpha-inv1', %s, 'alpha', 1, 99997, %s)", (later, later))
    try:
        with open_connection(contract_db.url, autocommit=True) as conn:
            results = check_contracts(conn, as_of=contract_db.now)
        assert [f.name for r in results for f in r.violations] == []
        with psycopg.connect(contract_db.url, autocommit=True) as conn:
            # a sensor clock 10 minutes ahead of the ingesting consumer: a violation
            conn.execute("INSERT INTO readings (device_id, ts, site_id, ac_power_kw, seq, ingested_at) "
                         "VALUES ('alpha-inv1', %s, 'alpha', 1, 99998, %s)", (later + timedelta(minutes=10), skewed))
        with open_connection(contract_db.url, autocommit=True) as conn:
            results = check_contracts(conn, as_of=contract_db.now)
        assert [f.name for r in results for f in r.violations] == ["readings.no_future_readings"]
    finally:
        with psycopg.connect(contract_db.url, autocommit=True) as conn:
            conn.execute("DELETE FROM readings WHERE seq IN (99997, 99998)")
