"""Checks of the PBIR report (powerbi/HeliosGrid.Report) used by the tests: JSON-schema validation
against Microsoft's published schemas (local MIT-licensed copies in ``../shared/schemas/powerbi``,
resolved from each file's ``$schema`` URL, ``$ref``s included) and field references against the
TMDL semantic model."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema.validators import validator_for
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[3]
REPORT_DIR = REPO / "powerbi" / "HeliosGrid.Report"
SCHEMA_DIR = REPO.parent / "shared" / "schemas" / "powerbi"
SCHEMA_BASE = "https://developer.microsoft.com/json-schemas/"

# The TMDL reader of the integration tests (one parser for both); loaded by path because test
# directories are not packages.
if "tmdl_model" in sys.modules:
    tmdl_model = sys.modules["tmdl_model"]
else:
    _spec = importlib.util.spec_from_file_location("tmdl_model", REPO / "tests" / "integration" / "powerbi" / "tmdl_model.py")
    assert _spec is not None and _spec.loader is not None
    tmdl_model = importlib.util.module_from_spec(_spec)
    sys.modules["tmdl_model"] = tmdl_model
    _spec.loader.exec_module(tmdl_model)


def schema_registry(schema_dir: Path = SCHEMA_DIR) -> Registry:
    """Every schema file under ``schema_dir`` registered under its published URL."""
    resources = []
    for path in sorted(schema_dir.rglob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        url = SCHEMA_BASE + path.relative_to(schema_dir).as_posix()
        resources.append((url, Resource.from_contents(contents)))
        if isinstance(contents, dict) and contents.get("$id") and contents["$id"] != url:
            resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def report_files(report_dir: Path = REPORT_DIR) -> list[Path]:
    """The PBIR files: definition.pbir and every JSON file under definition/."""
    return [report_dir / "definition.pbir", *sorted((report_dir / "definition").rglob("*.json"))]


def schema_problems(files: list[Path], registry: Registry) -> list[str]:
    """One message per schema violation (or missing/unknown ``$schema``) in ``files``."""
    problems: list[str] = []
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        url = doc.get("$schema") if isinstance(doc, dict) else None
        if not url:
            problems.append(f"{path.name}: no $schema")
            continue
        try:
            schema = registry.contents(url)
        except Exception:
            problems.append(f"{path.relative_to(path.parents[3])}: unknown schema {url}")
            continue
        validator = validator_for(schema)(schema, registry=registry)
        for err in validator.iter_errors(doc):
            where = "/".join(str(p) for p in err.absolute_path)
            problems.append(f"{path.relative_to(path.parents[3])}: {where}: {err.message[:200]}")
    return problems


def _field_refs(node: Any) -> Iterator[tuple[str, str, str]]:
    """(kind, entity, property) of every Column/Measure reference in a PBIR JSON document."""
    if isinstance(node, dict):
        for kind in ("Column", "Measure"):
            ref = node.get(kind)
            if isinstance(ref, dict) and "Property" in ref:
                entity = ref.get("Expression", {}).get("SourceRef", {}).get("Entity", "")
                yield kind, entity, ref["Property"]
        for value in node.values():
            yield from _field_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _field_refs(item)


def field_problems(files: list[Path], model_dir: Path = tmdl_model.MODEL_DIR) -> tuple[list[str], int]:
    """Field references that do not resolve in the TMDL model, and how many references were checked."""
    tables = tmdl_model.parse_model(model_dir)
    problems: list[str] = []
    checked = 0
    for path in files:
        for kind, entity, prop in _field_refs(json.loads(path.read_text(encoding="utf-8"))):
            checked += 1
            table = tables.get(entity)
            if table is None:
                problems.append(f"{path.parent.name}: table {entity!r} is not in the model")
            elif kind == "Column" and prop not in table.columns:
                problems.append(f"{path.parent.name}: column {entity}[{prop}] is not in the model")
            elif kind == "Measure" and prop not in table.measures:
                problems.append(f"{path.parent.name}: measure {entity}[{prop}] is not in the model")
    return problems, checked
