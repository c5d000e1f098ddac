"""Pure parts of the batch writer: in-batch de-duplication and row layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.db.writer import READING_COLUMNS, dedup_readings, reading_row
from heliosgrid.ingest.synthetic import reading

T0 = datetime(2026, 3, 1, tzinfo=UTC)

keys = st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 4), st.integers(0, 50))


@given(st.lists(keys, max_size=60))
def test_dedup_keeps_exactly_one_reading_per_device_and_ts_with_the_highest_seq(items: list[tuple[str, int, int]]) -> None:
    batch = [reading(d, "s", T0 + timedelta(minutes=m), seq) for d, m, seq in items]
    out = dedup_readings(batch)
    expected: dict[tuple[str, datetime], int] = {}
    for r in batch:
        key = (r.device_id, r.ts)
        expected[key] = max(expected.get(key, -1), r.seq)
    assert {(r.device_id, r.ts): r.seq for r in out} == expected
    assert len(out) == len(expected)


def test_dedup_output_follows_first_appearance_order() -> None:
    a1, b1, a2 = reading("a", "s", T0, 1), reading("b", "s", T0, 1), reading("a", "s", T0, 3)
    assert dedup_readings([a1, b1, a2]) == [a2, b1]


def test_reading_row_matches_the_column_order() -> None:
    r = reading("inv-1", "site-1", T0, 7)
    row = dict(zip(READING_COLUMNS, reading_row(r), strict=True))
    assert row == {c: getattr(r, c) for c in READING_COLUMNS}
