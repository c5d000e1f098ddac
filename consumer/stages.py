"""Per-stage wall-clock time of the pipelined consumer (where a batch's time goes).

The polling thread accounts ``poll_s`` (waiting in ``KafkaConsumer.poll``: fetch round trips and
record parsing), ``decode_s`` (contract decoding) and ``wait_writer_s`` (blocked until the writer
finished an older batch, ``consumer_pipeline_depth``); the writer thread accounts ``write_s``
(each batch's transaction and dead-letter flush), ``write_cpu_s`` (the writer thread's own CPU
time in it) and ``writer_idle_s`` (waiting for the next
batch while consuming: the pipeline starved the database). Each field is written by one thread
only. ``heliosgrid bench ingest`` reports them (ADR 0230); the stage that is never waited for is
the bottleneck.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


@dataclass
class StageClock:
    """Seconds spent per stage since the consumer started (see the module docstring)."""

    poll_s: float = 0.0
    decode_s: float = 0.0
    wait_writer_s: float = 0.0
    write_s: float = 0.0
    write_cpu_s: float = 0.0
    """CPU time of the writer thread itself while writing (its Python work; waits on the database
    and on the GIL are not in it): the share of ``write_s`` that competes with the polling thread."""
    writer_idle_s: float = 0.0
    batches_written: int = 0
    _writer_free_since: float | None = field(default=None, repr=False)
    _writer_cpu_at: float = field(default=0.0, repr=False)

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        """Add the wall time of the ``with`` block to ``<stage>`` (a field name ending in ``_s``)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, stage, getattr(self, stage) + time.perf_counter() - t0)

    def writer_started(self) -> float:
        """The writer takes the next batch: count the gap since it finished the last one; returns now."""
        now = time.perf_counter()
        free = self._writer_free_since
        if free is not None:
            self.writer_idle_s += max(0.0, now - free)
        self._writer_cpu_at = time.thread_time()
        return now

    def writer_finished(self, started: float) -> None:
        """The writer finished a batch it took at ``started``."""
        now = time.perf_counter()
        self.write_s += now - started
        self.write_cpu_s += time.thread_time() - self._writer_cpu_at
        self.batches_written += 1
        self._writer_free_since = now

    def writer_paused(self) -> None:
        """Nothing to consume (idle poll): gaps until the next batch are not starvation."""
        self._writer_free_since = None

    def as_dict(self) -> dict[str, float]:
        """The public figures, rounded to milliseconds."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()
                if not k.startswith("_")}
