"""``python -m bench``: its command line (the benchmarks themselves run in ``make bench``)."""

from __future__ import annotations

import pytest

from bench.__main__ import _parse, available


def test_no_names_runs_every_benchmark_and_private_helpers_are_not_benchmarks() -> None:
    names = _parse([])
    assert names == available()
    assert "maintenance" in names and "forecast" in names
    assert "bi_queries" not in names  # a helper module of the bi benchmark: no run()
    assert not any(n.startswith("_") for n in names)


def test_an_unknown_name_is_a_usage_error_that_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(["--bogus-flag-is-rejected"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        _parse(["maintenance", "nosuch"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown benchmark(s): nosuch" in err and "maintenance" in err
    assert "Traceback" not in err


def test_help_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(["--help"])
    assert exc.value.code == 0
    assert "storage" in capsys.readouterr().out
