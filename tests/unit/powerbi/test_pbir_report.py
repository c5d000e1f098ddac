"""The Power BI report (PBIR): schema-valid against the published schemas, every field bound to the TMDL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pbir_check import REPORT_DIR, SCHEMA_DIR, field_problems, report_files, schema_problems, schema_registry, tmdl_model
from referencing import Registry

REQUIRED_PAGES = ["Fleet overview", "Site detail", "Performance", "Forecast accuracy", "Maintenance", "Data quality"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    if not SCHEMA_DIR.is_dir():
        pytest.fail(f"Power BI schemas missing at {SCHEMA_DIR} (lay ../shared beside the repository)")
    return schema_registry()


def test_every_report_file_validates_against_its_published_schema(registry: Registry) -> None:
    files = report_files()
    assert len(files) > 30
    assert schema_problems(files, registry) == []


def test_every_field_reference_resolves_in_the_tmdl_model() -> None:
    problems, checked = field_problems(report_files())
    assert problems == []
    assert checked >= 60


def test_pages_are_the_six_of_the_report_in_order() -> None:
    pages_dir = REPORT_DIR / "definition" / "pages"
    meta = json.loads((pages_dir / "pages.json").read_text(encoding="utf-8"))
    names = [json.loads((pages_dir / p / "page.json").read_text(encoding="utf-8"))["displayName"] for p in meta["pageOrder"]]
    assert names == REQUIRED_PAGES
    assert sorted(meta["pageOrder"]) == sorted(p.name for p in pages_dir.iterdir() if p.is_dir())
    for page in meta["pageOrder"]:
        visuals = list((pages_dir / page / "visuals").glob("*/visual.json"))
        assert len(visuals) >= 3, page
        for v in visuals:  # the folder name is the visual's name, as Power BI Desktop writes it
            assert json.loads(v.read_text(encoding="utf-8"))["name"] == v.parent.name
    assert not (REPORT_DIR / "report.json").exists(), "legacy report.json must not sit beside a PBIR definition/"


def test_the_checks_catch_a_broken_visual_and_an_unknown_field(registry: Registry, tmp_path: Path) -> None:
    copy = tmp_path / "HeliosGrid.Report"
    shutil.copytree(REPORT_DIR, copy)
    visual = copy / "definition" / "pages" / "performance" / "visuals" / "bar_lost_by_cause" / "visual.json"
    doc = json.loads(visual.read_text(encoding="utf-8"))
    doc["position"]["x"] = "left"  # not a number
    doc["visual"]["query"]["queryState"]["Y"]["projections"][0]["field"]["Measure"]["Property"] = "Energy Lost MWh"
    visual.write_text(json.dumps(doc), encoding="utf-8")
    problems = schema_problems(report_files(copy), registry)
    assert len(problems) == 1 and "position/x" in problems[0] and "'left' is not of type 'number'" in problems[0]
    missing, _ = field_problems(report_files(copy), tmdl_model.MODEL_DIR)
    assert missing == ["bar_lost_by_cause: measure alert[Energy Lost MWh] is not in the model"]
