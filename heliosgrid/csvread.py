"""One CSV reader for the files operators bring (forecast and maintenance CLIs, the producer's replay).

Logger and portal exports differ in their separators: ``,`` with a decimal point (US, most
software), ``;`` with a decimal comma (SMA, Fronius and other European portals: ``7,1087``), tabs.
The separator is taken from the header line; with ``;`` or a tab, numbers written with a decimal
comma are read as numbers (a value like ``1.234,5`` keeps ``.`` as the thousands separator). With ``,``
a quoted number with thousands separators (``"1,209.10"``, as a spreadsheet writes it) is a number: read
as text, every value from 1000 up was lost (the 5 MW year of an npm solar package). A quoted decimal comma
in a comma-separated file (``"7,1"``) would read as 71: European exports separate with ``;``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class CsvReadError(ValueError):
    """The file cannot be read as a table; the message says why."""


def _separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] > 0 else ","


def read_csv_any(path: Path | str) -> pd.DataFrame:
    """The table in ``path`` (module doc); :class:`CsvReadError` for a missing, empty or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise CsvReadError(f"CSV file not found: {path}")
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
        sep = _separator(header)
        if sep == ",":
            return pd.read_csv(path, thousands=",")
        return pd.read_csv(path, sep=sep, decimal=",", thousands=".")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CsvReadError(f"cannot read CSV {path}: {str(exc).strip()}") from None


def _headerless_first(frame: pd.DataFrame) -> bool:
    return len(frame.columns) > 0 and str(frame.columns[0]).startswith("Unnamed: 0")


def two_columns(path: Path | str) -> tuple[str, str] | None:
    """The two header names of a CSV that has exactly two columns (read as the timestamp, then the power, when
    the command line names neither), else None (also for a missing or unreadable file: the reader says why)."""
    try:
        with Path(path).open(encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline().rstrip("\r\n")
    except OSError:
        return None
    names = [n.strip().strip('"') for n in header.split(_separator(header))]
    return (names[0], names[1]) if len(names) == 2 and names[1] else None


def resolve_column(frame: pd.DataFrame, name: str) -> str:
    """``name``; for ``''`` a first column without a header (a pandas index written to CSV), as pandas names it."""
    return str(frame.columns[0]) if name == "" and _headerless_first(frame) else name


def missing_columns(path: Path | str, frame: pd.DataFrame, names: list[str], timestamp_col: str) -> str | None:
    """The message for the ``names`` not in ``frame`` (``None`` when all are), with the columns there are and,
    when the timestamp column is missing from a file whose first column has no header, how to name it."""
    missing = [c for c in names if c not in frame.columns]
    if not missing:
        return None
    hint = (" (the first column has no header: give the timestamp column as '')"
            if timestamp_col in missing and _headerless_first(frame) else "")
    return (f"CSV {path} has no column(s) {', '.join(repr(c) for c in missing)}; columns are: "
            + ", ".join(repr(c) for c in frame.columns) + hint)

