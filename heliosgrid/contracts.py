"""Data contracts (Open Data Contract Standard v3 YAML) checked against the live database.

One contract per data product lives in ``contracts/<product>.yaml``. :func:`check_contracts`
verifies, for each contract:

* **schema** — every object (``schema[].physicalName``, schema-qualified if needed) exists and
  has every declared property as a column of a *compatible* type: the contract's
  ``physicalType`` and ``logicalType`` must fall into the column's type family (text, integer,
  floating point, numeric, timestamp with time zone, boolean, json, array), lossless widenings
  (integer or float → numeric) accepted;
* **freshness** — each ``slaProperties`` entry with ``property: latency`` and an ``element``
  ``<object>.<column>``: ``as_of − max(column)`` must not exceed ``value`` (units s, m, h, d);
* **quality** — each ``quality`` rule of ``type: sql`` returns one number, compared with the
  ODCS operator (``mustBe``, ``mustNotBe``, ``mustBeGreaterThan``, ``mustBeGreaterOrEqualTo``,
  ``mustBeLessThan``, ``mustBeLessOrEqualTo``, ``mustBeBetween``, ``mustNotBeBetween``).
  ``:as_of`` in the query is bound to the check time (a parameter, never string formatting).

Quality queries run in a read-only transaction with a statement timeout. A broken contract
or query becomes a failed finding with the reason, never an exception. ``retention`` and
``frequency`` SLAs are documentation (retention is enforced by the retention policies).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

DEFAULT_CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
QUERY_TIMEOUT_MS = 30_000
FRESHNESS_LOOKBACK_FACTOR = 10

_FAMILIES: dict[str, str] = {
    "text": "text", "character varying": "text", "varchar": "text", "character": "text", "char": "text", "name": "text",
    "smallint": "integer", "integer": "integer", "int": "integer", "int4": "integer", "bigint": "integer", "int8": "integer",
    "double precision": "float", "real": "float", "float8": "float", "numeric": "numeric", "decimal": "numeric",
    "timestamp with time zone": "timestamptz", "timestamptz": "timestamptz",
    "timestamp without time zone": "timestamp", "timestamp": "timestamp", "date": "date",
    "boolean": "boolean", "bool": "boolean",
    "jsonb": "json", "json": "json",
}
_LOGICAL: dict[str, set[str]] = {
    "string": {"text"},
    "integer": {"integer", "numeric"},
    "number": {"float", "integer", "numeric"},
    "timestamp": {"timestamptz", "timestamp"},
    "date": {"date", "timestamptz", "timestamp"},
    "boolean": {"boolean"},
    "object": {"json"},
    "array": {"array"},
}
_UNITS_S = {"s": 1, "sec": 1, "seconds": 1, "m": 60, "min": 60, "minutes": 60, "h": 3600, "hours": 3600,
            "d": 86400, "day": 86400, "days": 86400}
_AS_OF = re.compile(r"(?<!:):as_of\b")
_OPERATORS = ("mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan",
              "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween")


# Lossless widenings accepted between a contract's physicalType family and the column's family
# (e.g. TimescaleDB's sum(bigint) in hierarchical aggregates yields numeric).
_WIDENINGS = {("integer", "numeric"), ("float", "numeric")}


def compatible(contract_type: str, column_type: str) -> bool:
    """True when a column of ``column_type`` holds every value of the contract's ``contract_type``."""
    want, have = type_family(contract_type), type_family(column_type)
    return want == have or (want, have) in _WIDENINGS


def type_family(pg_type: str) -> str:
    """Family of a PostgreSQL type name (``format_type`` output or a contract physicalType)."""
    name = pg_type.strip().lower()
    if name.endswith("[]"):
        return "array"
    name = re.sub(r"\(.*\)", "", name).strip()
    return _FAMILIES.get(name, name)


@dataclass
class Finding:
    """One verified expectation."""

    kind: str  # 'contract' | 'schema' | 'freshness' | 'quality'
    name: str
    ok: bool
    detail: str
    measured: float | None = None
    expected: str | None = None


@dataclass
class ContractResult:
    """The outcome of one contract."""

    name: str
    version: str
    path: str
    findings: list[Finding] = field(default_factory=list)
    producer_dag: str | None = None
    """DAG producing the data (``producedByDag``); its first run decides when violations count."""

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "path": self.path, "ok": self.ok,
                "findings": [asdict(f) for f in self.findings]}


def load_contract(path: Path) -> dict[str, Any]:
    """Parse one contract file; raises ValueError with the file name on malformed YAML/structure."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path.name}: expected a mapping at the top level")
    problems = []
    if not str(doc.get("apiVersion", "")).startswith("v3"):
        problems.append("apiVersion must be an ODCS v3 version (e.g. v3.0.2)")
    if doc.get("kind") != "DataContract":
        problems.append("kind must be DataContract")
    for key in ("id", "name", "version", "status"):
        if not doc.get(key):
            problems.append(f"missing '{key}'")
    schema = doc.get("schema")
    if not isinstance(schema, list) or not schema:
        problems.append("'schema' must be a non-empty list of objects")
    else:
        for i, obj in enumerate(schema):
            if not isinstance(obj, dict) or not obj.get("name") or not isinstance(obj.get("properties"), list):
                problems.append(f"schema[{i}] needs 'name' and a 'properties' list")
                continue
            for j, prop in enumerate(obj["properties"]):
                typed = isinstance(prop, dict) and (prop.get("physicalType") or prop.get("logicalType"))
                if not isinstance(prop, dict) or not prop.get("name") or not typed:
                    problems.append(f"schema[{i}].properties[{j}] needs 'name' and 'physicalType' or 'logicalType'")
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return doc


def relation_columns(conn: psycopg.Connection, relation: str) -> dict[str, str] | None:
    """Column name → SQL type (``format_type``) of a table or view, or ``None`` if it does not exist."""
    row = conn.execute("SELECT to_regclass(%s)::oid", (relation,)).fetchone()
    if row is None or row[0] is None:
        return None
    cur = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped",
        (row[0],),
    )
    return {name: typ for name, typ in cur.fetchall()}


def _identifier(relation: str) -> sql.Identifier:
    return sql.Identifier(*relation.split(".", 1))


def _check_schema(conn: psycopg.Connection, obj: dict[str, Any]) -> list[Finding]:
    relation = str(obj.get("physicalName") or obj["name"])
    columns = relation_columns(conn, relation)
    if columns is None:
        return [Finding("schema", relation, False, f"relation {relation} does not exist")]
    out = []
    for prop in obj["properties"]:
        col = str(prop["name"])
        actual = columns.get(col)
        expected = str(prop.get("physicalType") or prop.get("logicalType"))
        if actual is None:
            out.append(Finding("schema", f"{relation}.{col}", False, f"column {relation}.{col} is missing", expected=expected))
            continue
        family = type_family(actual)
        problems = []
        if prop.get("physicalType") and not compatible(str(prop["physicalType"]), actual):
            problems.append(f"physicalType {prop['physicalType']!r}")
        logical = prop.get("logicalType")
        if logical and family not in _LOGICAL.get(str(logical), {str(logical)}):
            problems.append(f"logicalType {logical!r}")
        if problems:
            out.append(Finding("schema", f"{relation}.{col}", False,
                               f"column {relation}.{col} is {actual}, incompatible with the contract's {' and '.join(problems)}",
                               expected=expected))
        else:
            out.append(Finding("schema", f"{relation}.{col}", True, f"{actual}", expected=expected))
    return out


def _relation_of(doc: dict[str, Any], object_name: str) -> str:
    for obj in doc["schema"]:
        if obj["name"] == object_name:
            return str(obj.get("physicalName") or obj["name"])
    return object_name


def _check_freshness(conn: psycopg.Connection, doc: dict[str, Any], sla: dict[str, Any], as_of: datetime) -> Finding:
    element = str(sla.get("element", ""))
    name = f"latency {element}"
    obj_name, _, column = element.rpartition(".")
    unit = str(sla.get("unit", "s")).lower()
    if not obj_name or not column or unit not in _UNITS_S:
        return Finding(
            "freshness", name, False, f"latency SLA needs element '<object>.<column>' and a unit in {sorted(_UNITS_S)}"
        )
    try:
        limit_s = float(sla["value"]) * _UNITS_S[unit]
    except (KeyError, TypeError, ValueError):
        return Finding("freshness", name, False, "latency SLA needs a numeric 'value'")
    relation = _relation_of(doc, obj_name)
    # Look back only FRESHNESS_LOOKBACK_FACTOR x the SLA (at least a week): partition/chunk
    # pruning keeps this cheap on big tables, and anything older is a violation anyway.
    lookback = timedelta(seconds=max(limit_s * FRESHNESS_LOOKBACK_FACTOR, 7 * 86400))
    try:
        with conn.transaction():
            row = conn.execute(
                sql.SQL("SELECT max({col}) FROM {rel} WHERE {col} <= %s AND {col} > %s").format(
                    col=sql.Identifier(column), rel=_identifier(relation)
                ),
                (as_of, as_of - lookback),
            ).fetchone()
    except psycopg.Error as exc:
        return Finding("freshness", name, False, f"cannot measure freshness of {relation}.{column}: {exc}".strip())
    newest = row[0] if row else None
    expected = f"<= {limit_s:g} s"
    if newest is None:
        return Finding("freshness", name, False,
                       f"{relation} has no rows in the {lookback.total_seconds():g} s before {as_of.isoformat()}",
                       expected=expected)
    age_s = (as_of - newest).total_seconds()
    ok = age_s <= limit_s
    detail = f"newest {column} {newest.isoformat()} is {age_s:.0f} s old (SLA {limit_s:g} s)"
    return Finding("freshness", name, ok, detail, measured=age_s, expected=expected)


def _compare(rule: dict[str, Any], value: float) -> tuple[bool, str] | None:
    for op in _OPERATORS:
        if op not in rule:
            continue
        target = rule[op]
        if op in ("mustBeBetween", "mustNotBeBetween"):
            lo, hi = float(target[0]), float(target[1])
            inside = lo <= value <= hi
            return (inside if op == "mustBeBetween" else not inside), f"{op} [{lo:g}, {hi:g}]"
        t = float(target)
        result = {
            "mustBe": value == t, "mustNotBe": value != t, "mustBeGreaterThan": value > t,
            "mustBeGreaterOrEqualTo": value >= t, "mustBeLessThan": value < t, "mustBeLessOrEqualTo": value <= t,
        }[op]
        return result, f"{op} {t:g}"
    return None


def _check_quality(conn: psycopg.Connection, rule: dict[str, Any], as_of: datetime, scope: str) -> Finding:
    name = f"{scope}.{rule.get('name') or 'rule'}"
    if rule.get("type") != "sql":
        return Finding("quality", name, True, f"rule type {rule.get('type')!r} is not machine-checked (documentation only)")
    query = rule.get("query")
    if not isinstance(query, str) or not query.strip():
        return Finding("quality", name, False, "sql rule without a 'query'")
    statement = _AS_OF.sub("%(as_of)s::timestamptz", query.replace("%", "%%"))
    row: Any = None
    try:
        # Read-only and time-limited; the (sub)transaction is always rolled back so nothing a
        # rule does, nor these settings, outlives the check — also inside a caller's transaction.
        with conn.transaction():
            conn.execute("SET LOCAL transaction_read_only = on")
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(QUERY_TIMEOUT_MS)))
            row = conn.execute(statement, {"as_of": as_of}).fetchone()  # type: ignore[arg-type]
            raise psycopg.Rollback()
    except psycopg.Error as exc:
        return Finding("quality", name, False, f"query failed: {str(exc).strip()}")
    if row is None or len(row) != 1 or row[0] is None:
        return Finding("quality", name, False, "query must return exactly one non-null value")
    try:
        value = float(row[0])
    except (TypeError, ValueError):
        return Finding("quality", name, False, f"query returned a non-numeric value {row[0]!r}")
    compared = _compare(rule, value)
    if compared is None:
        return Finding("quality", name, False, f"rule needs one of {', '.join(_OPERATORS)}", measured=value)
    ok, expected = compared
    desc = rule.get("description") or ""
    detail = f"measured {value:g}, {expected}" + (f" — {desc}" if desc and not ok else "")
    return Finding("quality", name, ok, detail, measured=value, expected=expected)


def check_contract(conn: psycopg.Connection, path: Path, as_of: datetime) -> ContractResult:
    """Check one contract file (see module docstring)."""
    try:
        doc = load_contract(path)
    except (OSError, ValueError) as exc:
        result = ContractResult(name=path.stem, version="?", path=str(path))
        result.findings.append(Finding("contract", path.name, False, str(exc)))
        return result
    result = ContractResult(name=str(doc["name"]), version=str(doc["version"]), path=str(path),
                            producer_dag=producing_dag(doc))
    for obj in doc["schema"]:
        result.findings += _check_schema(conn, obj)
        for rule in obj.get("quality") or []:
            result.findings.append(_check_quality(conn, rule, as_of, str(obj["name"])))
    for rule in doc.get("quality") or []:
        result.findings.append(_check_quality(conn, rule, as_of, str(doc["name"])))
    for sla in doc.get("slaProperties") or []:
        if isinstance(sla, dict) and sla.get("property") == "latency":
            result.findings.append(_check_freshness(conn, doc, sla, as_of))
    return result


def contract_paths(directory: Path | None = None) -> list[Path]:
    """The contract files (``*.yaml``) in ``directory`` (default: the repository's contracts/)."""
    folder = directory or DEFAULT_CONTRACTS_DIR
    if not folder.is_dir():
        raise ValueError(f"contracts directory not found: {folder}")
    return sorted(folder.glob("*.yaml"))


def check_contracts(
    conn: psycopg.Connection, as_of: datetime | None = None, directory: Path | None = None
) -> list[ContractResult]:
    """Check every contract against the database behind ``conn``.

    ``as_of`` (tz-aware) is the time freshness and ``:as_of`` windows are measured at; default
    the database's ``now()``. Safe to call from an Airflow task; raises only for a missing
    contracts directory.
    """
    if as_of is None:
        row = conn.execute("SELECT now()").fetchone()
        as_of = row[0]  # type: ignore[index]
    elif as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    assert as_of is not None
    return [check_contract(conn, path, as_of) for path in contract_paths(directory)]


def format_report(results: list[ContractResult]) -> str:
    """Human-readable report: one line per contract, then every violation."""
    lines = []
    for res in results:
        checks = len(res.findings)
        status = "OK  " if res.ok else "FAIL"
        lines.append(f"{status} {res.name} {res.version}: {checks - len(res.violations)}/{checks} checks passed ({res.path})")
        for f in res.violations:
            lines.append(f"     ✗ [{f.kind}] {f.name}: {f.detail}")
    failed = sum(1 for r in results if not r.ok)
    lines.append(f"{len(results) - failed}/{len(results)} contracts satisfied" + ("" if not failed else f"; {failed} violated"))
    return "\n".join(lines)


def producing_dag(doc: dict[str, Any]) -> str | None:
    """The Airflow DAG that produces the contract's data (custom property ``producedByDag``), or None
    (e.g. the readings stream, produced by the consumer)."""
    for prop in doc.get("customProperties") or []:
        if isinstance(prop, dict) and prop.get("property") == "producedByDag" and prop.get("value"):
            return str(prop["value"])
    return None


def freshness_sla_s(doc: dict[str, Any]) -> float | None:
    """The contract's latency SLA in seconds, or None."""
    for sla in doc.get("slaProperties") or []:
        if isinstance(sla, dict) and sla.get("property") == "latency":
            return float(sla["value"]) * _UNITS_S[str(sla.get("unit", "s")).lower()]
    return None


__all__ = ["ContractResult", "Finding", "check_contracts", "format_report", "freshness_sla_s", "load_contract",
           "producing_dag"]
