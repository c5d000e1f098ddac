"""Row-tuple de-duplication (the consumer's path) behaves exactly like the model-based one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.db.writer import dedup_readings, dedup_rows, reading_row
from heliosgrid.ingest.synthetic import reading

T0 = datetime(2026, 3, 1, tzinfo=UTC)

items = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 4), st.integers(0, 50),
                           st.floats(0, 1000)), max_size=60)


@given(items)
def test_dedup_rows_equals_dedup_readings_on_the_same_batch(batch_spec: list[tuple[str, int, int, float]]) -> None:
    readings = [
        reading(d, "s", T0 + timedelta(minutes=m), seq).model_copy(update={"poa_w_m2": poa})
        for d, m, seq, poa in batch_spec
    ]
    assert dedup_rows([reading_row(r) for r in readings]) == [reading_row(r) for r in dedup_readings(readings)]


def test_dedup_rows_keeps_the_later_row_on_equal_seq() -> None:
    first = reading_row(reading("a", "s", T0, 3))
    later = reading_row(reading("a", "s", T0, 3).model_copy(update={"poa_w_m2": 1.0}))
    assert dedup_rows([first, later]) == [later]
