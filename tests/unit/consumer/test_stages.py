"""The stage clock: what the writer and polling threads account, and that idle polls are not starvation."""

from __future__ import annotations

import threading
import time

from consumer.pipeline import Batch, BatchWriter
from consumer.stages import StageClock
from heliosgrid.contract import DEFAULT_TS_WINDOW
from heliosgrid.ingest.batch import RawMessage
from heliosgrid.ingest.store import StoredBatch


class _SlowWriter(BatchWriter):
    """The real BatchWriter with the database attempt replaced by a fixed delay."""

    def __init__(self, stages: StageClock, delay_s: float) -> None:
        super().__init__(db=None, checkpoint=None, metrics=None, periodic=None, beat_details=None,  # type: ignore[arg-type]
                         stages=stages)
        self.delay_s = delay_s

    def attempt(self, batch: Batch) -> None:
        time.sleep(self.delay_s)
        batch.stored = StoredBatch(outcome=None, result=None)  # type: ignore[arg-type]


def _batch(n: int) -> Batch:
    return Batch.decode([RawMessage("t", 0, n, None, b"{}")], 0.0, DEFAULT_TS_WINDOW)  # type: ignore[list-item]


def test_timing_adds_the_block_time_to_its_stage() -> None:
    clock = StageClock()
    with clock.timing("decode_s"):
        time.sleep(0.02)
    with clock.timing("decode_s"):
        time.sleep(0.02)
    assert 0.035 <= clock.decode_s < 0.5
    assert clock.poll_s == 0.0


def test_a_writer_fed_faster_than_it_writes_never_idles() -> None:
    clock = StageClock()
    writer = _SlowWriter(clock, 0.03)
    for n in range(4):
        writer.submit(_batch(n))
    writer.completed(lambda b, e: None, keep=0)
    writer.shutdown()
    assert clock.batches_written == 4
    assert clock.write_s >= 0.11
    assert clock.writer_idle_s < 0.02


def test_a_starved_writer_counts_its_idle_gaps_but_not_after_an_idle_poll() -> None:
    clock = StageClock()
    writer = _SlowWriter(clock, 0.0)
    writer.submit(_batch(0))
    writer.completed(lambda b, e: None, keep=0)
    time.sleep(0.05)  # the polling thread is slow: the writer waits
    writer.submit(_batch(1))
    writer.completed(lambda b, e: None, keep=0)
    starved = clock.writer_idle_s
    assert starved >= 0.04
    clock.writer_paused()  # nothing to consume: the next gap is not starvation
    time.sleep(0.05)
    writer.submit(_batch(2))
    writer.completed(lambda b, e: None, keep=0)
    writer.shutdown()
    assert clock.writer_idle_s == starved
    assert set(clock.as_dict()) == {"poll_s", "decode_s", "wait_writer_s", "write_s", "write_cpu_s", "writer_idle_s",
                                    "batches_written"}


def test_a_failed_attempt_is_still_accounted() -> None:
    clock = StageClock()
    done = threading.Event()

    class _Failing(_SlowWriter):
        def attempt(self, batch: Batch) -> None:
            done.set()
            raise RuntimeError("boom")

    writer = _Failing(clock, 0.0)
    writer.submit(_batch(0))
    assert done.wait(5)
    writer.shutdown()
    assert clock.batches_written == 1


class _BusyWriter(_SlowWriter):
    """Burns ``delay_s`` of its own thread's CPU per batch instead of waiting."""

    def attempt(self, batch: Batch) -> None:
        end = time.thread_time() + self.delay_s
        while time.thread_time() < end:
            pass
        batch.stored = StoredBatch(outcome=None, result=None)  # type: ignore[arg-type]


def test_write_cpu_counts_the_writer_threads_own_cpu_not_its_waits() -> None:
    clocks = {}
    for name, cls in (("waiting", _SlowWriter), ("busy", _BusyWriter)):
        clocks[name] = clock = StageClock()
        writer = cls(clock, 0.05)
        for n in range(2):
            writer.submit(_batch(n))
        writer.completed(lambda b, e: None, keep=0)
        writer.shutdown()
    assert clocks["waiting"].write_s >= 0.09 and clocks["waiting"].write_cpu_s < 0.03
    assert clocks["busy"].write_cpu_s >= 0.09
