"""Site batching, the batch-failure rule and the fleet report (pure parts of ``sitebatch``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.orchestration.sitebatch import (
    SiteBatchReport,
    chunk,
    db_pool_command,
    fleet_report,
    site_failed_fault_type,
)
from heliosgrid.settings import load_settings

AS_OF = datetime(2026, 6, 21, tzinfo=UTC)


@given(st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=300), st.integers(1, 50))
def test_chunk_keeps_every_site_once_in_order_with_bounded_batches(sites: list[str], size: int) -> None:
    batches = chunk(sites, size)
    assert [s for b in batches for s in b] == sites
    assert all(1 <= len(b) <= size for b in batches)
    assert len(batches) == -(-len(sites) // size)


def test_chunk_rejects_a_non_positive_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        chunk(["a"], 0)


def test_batch_fails_only_when_every_site_failed() -> None:
    report = SiteBatchReport("forecast", AS_OF, ["a", "b"])
    report.failed["a"] = "boom"
    assert not report.all_failed
    report.skipped["b"] = "too little history"
    assert not report.all_failed  # a skip is the normal "not yet", not a failure
    del report.skipped["b"]
    report.failed["b"] = "boom"
    assert report.all_failed
    assert not SiteBatchReport("forecast", AS_OF, []).all_failed


def test_fleet_report_sums_the_batches() -> None:
    a = SiteBatchReport("maintenance", AS_OF, ["s1", "s2"], ok={"s1": {}}, failed={"s2": "KeyError: x"}).summary()
    b = SiteBatchReport("maintenance", AS_OF, ["s3"], skipped={"s3": "no devices"}).summary()
    out = fleet_report("maintenance", [a, b])
    assert out == {"kind": "maintenance", "batches": 2, "sites": 3, "ok": 1, "skipped": {"s3": "no devices"},
                   "failed": {"s2": "KeyError: x"}}


def test_fault_type_names_the_dag_and_pool_command_is_idempotent_set() -> None:
    assert site_failed_fault_type("retrain") == "retrain_site_failed"
    argv = db_pool_command(load_settings(fleet_db_pool="p1", fleet_db_pool_slots=7), airflow_bin="airflow")
    assert argv[:5] == ["airflow", "pools", "set", "p1", "7"]
