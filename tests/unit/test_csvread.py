"""The one CSV reader (heliosgrid.csvread): the separators and decimal marks loggers and portals use."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heliosgrid.csvread import CsvReadError, read_csv_any


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=-1e5, max_value=1e5, allow_nan=False).map(lambda v: round(v, 3)), min_size=1, max_size=30),
       st.sampled_from([(",", "."), (";", ","), ("\t", ",")]))
def test_every_export_style_reads_back_the_numbers(tmp_path_factory: pytest.TempPathFactory, values: list[float],
                                                   style: tuple[str, str]) -> None:
    """``,`` with a decimal point, ``;`` (SMA, Fronius portals) or tab with a decimal comma."""
    sep, decimal = style
    path = tmp_path_factory.mktemp("csv") / "export.csv"
    frame = pd.DataFrame({"time": [f"2024-06-01 10:{i % 60:02d}" for i in range(len(values))], "pac_kw": values})
    frame.to_csv(path, sep=sep, decimal=decimal, index=False)
    got = read_csv_any(path)
    assert list(got.columns) == ["time", "pac_kw"]
    assert got["pac_kw"].tolist() == pytest.approx(values)


def test_a_european_portal_export_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "sma.csv"
    path.write_bytes("\ufeffZeit;Leistung kW\n01.06.2024 10:00;7,1087\n01.06.2024 10:05;1.234,5\n".encode())
    got = read_csv_any(path)
    assert list(got.columns) == ["Zeit", "Leistung kW"] and got["Leistung kW"].tolist() == [7.1087, 1234.5]


def test_missing_or_empty_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CsvReadError, match="CSV file not found"):
        read_csv_any(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(CsvReadError, match="cannot read CSV"):
        read_csv_any(tmp_path / "empty.csv")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e7, allow_nan=False).map(lambda v: round(v, 2)), min_size=1, max_size=30))
def test_a_spreadsheet_export_with_quoted_thousands_reads_every_number(tmp_path_factory: pytest.TempPathFactory,
                                                                      values: list[float]) -> None:
    """``"1,209.10"`` (a spreadsheet's comma-separated export; the npm 5 MW year): read as text before, every value
    from 1000 up became missing."""
    path = tmp_path_factory.mktemp("csv") / "sheet.csv"
    lines = ["Time,5 MW example (kWh)"] + [f'01.01.2015 10:{i % 60:02d},"{v:,.2f}"' for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    assert read_csv_any(path)["5 MW example (kWh)"].tolist() == pytest.approx(values)


def test_cells_that_are_not_numbers_are_said_not_dropped_in_silence(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    from heliosgrid.forecast.datasets import read_csv_columns

    path = tmp_path / "p.csv"
    path.write_text("ts,kw\n2024-06-01 10:00,1.5\n2024-06-01 10:15,offline\n2024-06-01 10:30,\n2024-06-01 10:45,"
                    "n/a\n2024-06-01 11:00,2\n2024-06-01 11:15,offline\n")
    with caplog.at_level("WARNING"):
        got = read_csv_columns(path, "ts", ["kw"])
    assert got["kw"].isna().sum() == 4
    (msg,) = [r.getMessage() for r in caplog.records]
    assert msg == "column 'kw': 2 of 6 values are not numbers (e.g. 'offline'): read as missing"
