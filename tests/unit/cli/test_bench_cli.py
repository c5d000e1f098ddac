"""``heliosgrid bench NAME``: a helper module or an unknown name gets a precise error listing the real benchmarks."""

from __future__ import annotations

import pytest

from heliosgrid.cli import CLIError
from heliosgrid.cli.bench import _load, available_benchmarks


def test_available_benchmarks_are_the_modules_with_a_run_function() -> None:
    names = available_benchmarks()
    assert {"bi", "ingest", "maintenance"} <= set(names)
    assert "bi_queries" not in names and "bi_measure" not in names  # helpers of bench/bi.py


@pytest.mark.parametrize(("name", "says"), [("nope", "no benchmark 'nope'"), ("bi_queries", "is a helper")])
def test_unknown_or_helper_name_lists_the_benchmarks(name: str, says: str) -> None:
    with pytest.raises(CLIError) as err:
        _load(name)
    assert says in str(err.value) and "available: api, bi, " in str(err.value) and "bi_measure" not in str(err.value)
