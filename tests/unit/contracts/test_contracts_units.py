"""Unit tests of the data-contract checker's pure parts and of the contract files' structure."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.contracts import DEFAULT_CONTRACTS_DIR, _compare, compatible, freshness_sla_s, load_contract, type_family


@pytest.mark.parametrize(("contract", "column", "ok"), [
    ("text", "character varying(20)", True),
    ("bigint", "integer", True),
    ("bigint", "numeric", True),
    ("double precision", "numeric", True),
    ("double precision", "bigint", False),
    ("timestamp with time zone", "timestamp without time zone", False),
    ("text[]", "text[]", True),
    ("jsonb", "json", True),
    ("boolean", "text", False),
])
def test_type_compatibility(contract: str, column: str, ok: bool) -> None:
    assert compatible(contract, column) is ok


def test_type_family_ignores_modifiers_and_case() -> None:
    assert type_family("NUMERIC(10,2)") == "numeric"
    assert type_family("timestamptz") == type_family("timestamp with time zone")


@given(value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_operators(value: float) -> None:
    assert _compare({"mustBe": 0}, value) == (value == 0, "mustBe 0")
    assert _compare({"mustBeLessOrEqualTo": 5}, value)[0] is (value <= 5)  # type: ignore[index]
    assert _compare({"mustBeGreaterThan": -1}, value)[0] is (value > -1)  # type: ignore[index]
    assert _compare({"mustBeBetween": [0, 10]}, value)[0] is (0 <= value <= 10)  # type: ignore[index]
    assert _compare({"mustNotBeBetween": [0, 10]}, value)[0] is not (0 <= value <= 10)  # type: ignore[index]
    assert _compare({"description": "no operator"}, value) is None


def test_every_contract_is_valid_odcs_with_owner_units_and_rules() -> None:
    paths = sorted(DEFAULT_CONTRACTS_DIR.glob("*.yaml"))
    assert [p.stem for p in paths] == ["alerts", "forecasts", "quality", "readings", "rollups"]
    for path in paths:
        doc = load_contract(path)
        assert doc["apiVersion"].startswith("v3") and doc["name"] == path.stem
        assert any(member["role"] == "owner" for member in doc["team"]), path.name
        assert any(s["property"] == "retention" for s in doc["slaProperties"]), path.name
        rules = [r for obj in doc["schema"] for r in obj.get("quality", [])]
        assert rules and all(r["type"] == "sql" and "query" in r for r in rules), path.name
        units = [cp["value"] for obj in doc["schema"] for prop in obj["properties"]
                 for cp in prop.get("customProperties", []) if cp["property"] == "unit"]
        assert units, f"{path.name} declares no units"
    assert freshness_sla_s(load_contract(DEFAULT_CONTRACTS_DIR / "readings.yaml")) == 300


@pytest.mark.parametrize(("text", "message"), [
    ("{not yaml", "not valid YAML"),
    ("- a list", "expected a mapping"),
    ("apiVersion: v3.0.2\nkind: DataContract\nid: x\nname: x\nversion: 1\nstatus: active\nschema: []\n", "non-empty list"),
    ("apiVersion: v3.0.2\nkind: DataContract\nid: x\nname: x\nversion: 1\nstatus: active\n"
     "schema: [{name: t, properties: [{name: c}]}]\n", "needs 'name' and 'physicalType' or 'logicalType'"),
])
def test_malformed_contracts_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_contract(path)


def test_as_of_placeholder_is_bound_not_formatted() -> None:
    from heliosgrid.contracts import _AS_OF

    query = "SELECT count(*) FROM t WHERE d > (:as_of - INTERVAL '7 days')::date AND x::text LIKE '5%' AND y = :as_offset"
    bound = _AS_OF.sub("%(as_of)s::timestamptz", query.replace("%", "%%"))
    assert bound == ("SELECT count(*) FROM t WHERE d > (%(as_of)s::timestamptz - INTERVAL '7 days')::date "
                     "AND x::text LIKE '5%%' AND y = :as_offset")
