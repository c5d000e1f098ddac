"""A small reader for the TMDL files of powerbi/HeliosGrid.SemanticModel (what the tests need).

Extracts, per table file: the table name, its columns (name, dataType, sourceColumn), its
measures (name, DAX expression) and the M partition's source object
(``Source{[Schema="bi",Item="…"]}``) and mode; from relationships.tmdl the from/to columns;
from expressions.tmdl the parameter names. TMDL indents with tabs; a property line is
``name: value`` one level below its object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parents[3] / "powerbi" / "HeliosGrid.SemanticModel" / "definition"

_SOURCE = re.compile(r'Source\{\[Schema="(?P<schema>[^"]+)",Item="(?P<item>[^"]+)"\]\}\[Data\]')
_DAX_REF = re.compile(r"(?<![\w'])(?P<table>[a-z_][a-z0-9_]*)\[(?P<column>[a-z_][a-z0-9_]*)\]")

# TMDL dataType → PostgreSQL type families it can be bound to (lossless).
COMPATIBLE: dict[str, set[str]] = {
    "string": {"text", "character varying", "character"},
    "int64": {"integer", "bigint", "smallint", "numeric"},
    "double": {"double precision", "real", "numeric"},
    "decimal": {"numeric", "double precision"},
    "dateTime": {"timestamp with time zone", "timestamp without time zone", "date"},
    "boolean": {"boolean"},
}


@dataclass
class Column:
    name: str
    data_type: str = ""
    source_column: str = ""


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    measures: dict[str, str] = field(default_factory=dict)
    source_schema: str = ""
    source_item: str = ""
    mode: str = ""
    source_text: str = ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip("\t"))


def parse_table(path: Path) -> Table:
    lines = path.read_text(encoding="utf-8").splitlines()
    table: Table | None = None
    current: Column | None = None
    measure: str | None = None
    in_source = False
    for raw in lines:
        if not raw.strip() or raw.lstrip().startswith("///"):
            continue
        depth, text = _indent(raw), raw.strip()
        if depth == 0 and text.startswith("table "):
            table = Table(text.split(" ", 1)[1].strip())
            continue
        assert table is not None, f"{path.name}: no 'table' declaration"
        if depth == 1:
            current, measure, in_source = None, None, False
            if text.startswith("column "):
                current = Column(text.split(" ", 1)[1].strip())
                table.columns[current.name] = current
            elif text.startswith("measure "):
                name, _, expr = text[len("measure "):].partition("=")
                measure = name.strip().strip("'")
                table.measures[measure] = expr.strip()
            continue
        if current is not None and depth == 2 and ":" in text:
            key, _, value = text.partition(":")
            if key == "dataType":
                current.data_type = value.strip()
            elif key == "sourceColumn":
                current.source_column = value.strip()
        elif measure is not None and depth >= 3:
            table.measures[measure] += "\n" + text
        elif text.startswith("mode:"):
            table.mode = text.split(":", 1)[1].strip()
        elif text.startswith("source ="):
            in_source = True
        elif in_source and depth >= 3:
            table.source_text += text + "\n"
    assert table is not None, f"{path.name}: empty"
    match = _SOURCE.search(table.source_text)
    if match:
        table.source_schema, table.source_item = match["schema"], match["item"]
    return table


def parse_model(directory: Path = MODEL_DIR) -> dict[str, Table]:
    return {t.name: t for t in (parse_table(p) for p in sorted((directory / "tables").glob("*.tmdl")))}


def parse_relationships(directory: Path = MODEL_DIR) -> list[tuple[str, str, str, str]]:
    """(from_table, from_column, to_table, to_column) per relationship."""
    out = []
    frm = None
    for raw in (directory / "relationships.tmdl").read_text(encoding="utf-8").splitlines():
        text = raw.strip()
        if text.startswith("fromColumn:"):
            frm = text.split(":", 1)[1].strip().split(".", 1)
        elif text.startswith("toColumn:") and frm:
            to = text.split(":", 1)[1].strip().split(".", 1)
            out.append((frm[0], frm[1], to[0], to[1]))
            frm = None
    return out


def dax_column_refs(expression: str) -> list[tuple[str, str]]:
    return [(m["table"], m["column"]) for m in _DAX_REF.finditer(expression)]


def parameter_names(directory: Path = MODEL_DIR) -> list[str]:
    return re.findall(r"^expression (\w+) =", (directory / "expressions.tmdl").read_text(encoding="utf-8"), re.M)
