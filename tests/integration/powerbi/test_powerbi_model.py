"""The Power BI package against live databases: TMDL bindings, relationships, DAX references,
the .pbids file, and the read-only ``helios_bi_reader`` role (SET ROLE on a fresh database)."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql
from tmdl_model import COMPATIBLE, MODEL_DIR, dax_column_refs, parameter_names, parse_model, parse_relationships

from heliosgrid.contracts import relation_columns
from heliosgrid.db.connection import open_connection

pytestmark = pytest.mark.integration
POWERBI = MODEL_DIR.parents[1]
EXPECTED_MEASURES = {"Current kW", "Expected kW", "Energy Today kWh", "Performance Ratio", "Availability",
                     "Forecast P50 kW", "Forecast P10 kW", "Forecast P90 kW", "Forecast Expected kW",
                     "Fleet Forecast Expected kW", "Forecast MAE kW", "Forecast RMSE kW",
                     "Forecast Bias kW", "Open Alerts"}


def _binding_problems(url: str, directory: Path = MODEL_DIR) -> list[str]:
    problems = []
    with open_connection(url, autocommit=True) as conn:
        for table in parse_model(directory).values():
            relation = f"{table.source_schema}.{table.source_item}"
            if table.source_schema != "bi":
                problems.append(f"{table.name}: bound to {relation}, expected the bi schema")
            columns = relation_columns(conn, relation)
            if columns is None:
                problems.append(f"{table.name}: relation {relation} does not exist")
                continue
            for col in table.columns.values():
                actual = columns.get(col.source_column)
                if actual is None:
                    problems.append(f"{table.name}.{col.name}: column {relation}.{col.source_column} is missing")
                elif actual not in COMPATIBLE.get(col.data_type, set()):
                    problems.append(f"{table.name}.{col.name}: TMDL {col.data_type} vs database {actual}")
    return problems


@pytest.fixture(scope="module")
def bi_db(fresh_db: Callable[..., str]) -> str:
    return fresh_db()


def test_every_tmdl_table_and_column_exists_with_a_compatible_type_postgres(bi_db: str) -> None:
    assert len(parse_model()) == 19
    assert _binding_problems(bi_db) == []


def test_every_tmdl_table_and_column_exists_with_a_compatible_type_timescaledb(timescale_db: str) -> None:
    assert _binding_problems(timescale_db) == []


def test_binding_check_catches_a_wrong_type_and_a_missing_column(bi_db: str, tmp_path: Path) -> None:
    """The checker itself can fail: a model copy with a wrong type and a renamed column is reported."""
    shutil.copytree(MODEL_DIR, tmp_path / "definition")
    site = tmp_path / "definition" / "tables" / "site.tmdl"
    text = site.read_text(encoding="utf-8")
    text = text.replace("column dc_capacity_kw\n\t\tdataType: double", "column dc_capacity_kw\n\t\tdataType: string")
    text = text.replace("sourceColumn: timezone", "sourceColumn: time_zone")
    site.write_text(text, encoding="utf-8")
    assert set(_binding_problems(bi_db, tmp_path / "definition")) == {
        "site.dc_capacity_kw: TMDL string vs database double precision",
        "site.timezone: column bi.site.time_zone is missing",
    }


def test_partitions_are_directquery_on_the_parameters() -> None:
    assert set(parameter_names()) == {"Server", "Database"}
    for table in parse_model().values():
        assert table.mode == "directQuery", table.name
        assert "PostgreSQL.Database(Server, Database)" in table.source_text, table.name
        assert table.source_item == table.name


def test_model_tmdl_references_every_table_file() -> None:
    refs = set(re.findall(r"^ref table (\w+)$", (MODEL_DIR / "model.tmdl").read_text(encoding="utf-8"), re.M))
    assert refs == set(parse_model())


def test_relationships_reference_model_columns() -> None:
    model = parse_model()
    rels = parse_relationships()
    assert len(rels) >= 9
    for ft, fc, tt, tc in rels:
        assert fc in model[ft].columns and tc in model[tt].columns, (ft, fc, tt, tc)
    assert {ft for ft, *_ in rels} >= {"site_power_15m", "site_kpi_daily", "forecast_latest", "forecast_accuracy", "alert"}


def test_measures_reference_existing_columns() -> None:
    model = parse_model()
    measures = {name: expr for t in model.values() for name, expr in t.measures.items()}
    assert set(measures) >= EXPECTED_MEASURES
    for name, expr in measures.items():
        refs = dax_column_refs(expr)
        assert refs, f"measure {name!r} references no column"
        for table, column in refs:
            assert table in model and column in model[table].columns, f"measure {name!r}: {table}[{column}] not in the model"


def test_pbids_is_a_directquery_postgresql_connection() -> None:
    doc = json.loads((POWERBI / "HeliosGrid.pbids").read_text(encoding="utf-8"))
    conn = doc["connections"][0]
    assert conn["details"]["protocol"] == "postgresql" and conn["mode"] == "DirectQuery"
    assert conn["details"]["address"]["database"] == "heliosgrid"
    pbip = json.loads((POWERBI / "HeliosGrid.pbip").read_text(encoding="utf-8"))
    report_dir = POWERBI / pbip["artifacts"][0]["report"]["path"]
    pbir = json.loads((report_dir / "definition.pbir").read_text(encoding="utf-8"))
    assert (report_dir / pbir["datasetReference"]["byPath"]["path"] / "definition" / "model.tmdl").is_file()


def _as_reader(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET ROLE helios_bi_reader")
        conn.execute(statement)


def test_bi_reader_reads_every_bi_view(bi_db: str) -> None:
    with psycopg.connect(bi_db, autocommit=True) as conn:
        views = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'bi' ORDER BY 1").fetchall()]
        assert len(views) >= 10
        row = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'helios_bi_reader'").fetchone()
        assert row == (False,)
        conn.execute("SET ROLE helios_bi_reader")
        for view in views:
            conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier("bi", view))).fetchall()


@pytest.mark.parametrize("statement", [
    "INSERT INTO sites (site_id, name, latitude_deg, longitude_deg) VALUES ('x', 'x', 0, 0)",
    "UPDATE bi.site SET site_name = 'x'",
    "DELETE FROM bi.alert",
    "CREATE TABLE bi.sneaky (x int)",
    "SELECT * FROM api_keys",
    "SELECT * FROM readings LIMIT 1",
])
def test_bi_reader_cannot_write_nor_read_outside_bi(bi_db: str, statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege) as info:
        _as_reader(bi_db, statement)
    assert info.value.sqlstate == "42501"


def test_documented_login_role_reads_bi(bi_db: str) -> None:
    login = f"powerbi_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(bi_db, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'change-me' IN ROLE helios_bi_reader").format(sql.Identifier(login)))
        try:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(login)))
            conn.execute("SELECT count(*) FROM bi.site_kpi_daily").fetchone()
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM api_keys")
        finally:
            conn.execute("RESET ROLE")
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))
