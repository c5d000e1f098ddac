"""The writer stage keeps batches in order: a failed batch halts the ones behind it, which are then
retried in order; a rebalance commits only the stored prefix. The database attempt is scripted
(``attempt`` overridden); everything else is the real BatchWriter."""

from __future__ import annotations

import threading

import psycopg
import pytest
from kafka import TopicPartition

from consumer.pipeline import Batch, BatchWriter
from heliosgrid.contract import DEFAULT_TS_WINDOW
from heliosgrid.ingest.batch import RawMessage
from heliosgrid.ingest.store import StoredBatch


class _ScriptedWriter(BatchWriter):
    def __init__(self, fail: set[int], gate: threading.Event | None = None) -> None:
        super().__init__(db=None, checkpoint=None, metrics=None, periodic=None, beat_details=None)  # type: ignore[arg-type]
        self.fail = fail
        self.gate = gate
        self.written: list[int] = []

    def attempt(self, batch: Batch) -> None:
        n = batch.records[0].offset
        if self.gate is not None:
            self.gate.wait(5)
        if n in self.fail:
            self.fail.discard(n)
            raise psycopg.OperationalError(f"server closed the connection during batch {n}")
        self.written.append(n)
        batch.stored = StoredBatch(outcome=None, result=None)  # type: ignore[arg-type]


def _batch(n: int) -> Batch:
    return Batch.decode([RawMessage("t", 0, n, None, b"{}")], 0.0, DEFAULT_TS_WINDOW)  # type: ignore[list-item]


def test_a_failed_batch_halts_the_ones_behind_it_and_all_are_retried_in_order() -> None:
    writer = _ScriptedWriter(fail={1})
    retried: list[tuple[int, bool]] = []

    def retry(batch: Batch, error: BaseException | None) -> None:
        retried.append((batch.records[0].offset, error is not None))
        writer.attempt(batch)

    for n in (1, 2, 3):
        writer.submit(_batch(n))
    done = writer.completed(retry, keep=0)
    writer.shutdown()
    assert [b.records[0].offset for b in done] == [1, 2, 3]
    assert writer.written == [1, 2, 3]  # 2 and 3 were not written before 1
    assert retried == [(1, True), (2, False), (3, False)]


def test_completed_keeps_the_unfinished_tail_in_flight() -> None:
    gate = threading.Event()
    writer = _ScriptedWriter(fail=set(), gate=gate)
    writer.submit(_batch(1))
    assert writer.completed(lambda b, e: None, keep=1) == []  # not finished, allowed to stay
    assert writer.full is False
    writer.submit(_batch(2))
    assert writer.full
    gate.set()
    done = writer.completed(lambda b, e: None, keep=0)
    writer.shutdown()
    assert [b.records[0].offset for b in done] == [1, 2]


def test_a_rebalance_commits_the_stored_prefix_and_drops_the_rest() -> None:
    writer = _ScriptedWriter(fail={2})
    for n in (1, 2, 3):
        writer.submit(_batch(n))
    stored = writer.on_revoked({TopicPartition("t", 0)})
    assert [b.records[0].offset for b in stored] == [1]
    assert writer.written == [1]  # 3 was never written after 2 failed
    writer.submit(_batch(4))  # the writer is usable again
    assert [b.records[0].offset for b in writer.completed(lambda b, e: None)] == [4]
    writer.shutdown()


def test_batches_restrict_to_owned_partitions() -> None:
    b = Batch.decode([RawMessage("t", p, o, None, b"{}") for p, o in [(0, 1), (1, 2), (0, 3)]],  # type: ignore[misc]
                     0.0, DEFAULT_TS_WINDOW)
    assert len(b.decoded.rejects) == 3
    b.drop({TopicPartition("t", 1)})
    assert [r.offset for r in b.records] == [1, 3]
    assert [q.source_offset for q in b.decoded.rejects] == [1, 3]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_bounds_the_batches_in_flight(depth: int) -> None:
    writer = _ScriptedWriter(fail=set())
    writer.depth = depth
    for n in range(depth):
        assert not writer.full
        writer.submit(_batch(n))
    assert writer.full
    writer.completed(lambda b, e: None)
    writer.shutdown()
