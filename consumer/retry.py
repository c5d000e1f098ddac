"""Retry/pause policy of the consumer while the database is unavailable.

:class:`RetryPolicy` is the schedule (pure): exponential backoff from ``initial_s``, doubling,
capped at :data:`MAX_BACKOFF_S`, ±20 % jitter, until ``budget_s`` of outage is spent.

:class:`OutageRetry` applies it to one batch: the assigned partitions are paused, the consumer
keeps polling while it waits (so its group membership and assignment stay alive), and the
attempt is repeated until it succeeds, the budget is spent (:class:`RetryBudgetExceeded`) or a
stop is requested (:class:`ConsumerStopped`). Only outage-class errors are retried; a data error
(:func:`heliosgrid.ingest.store.is_data_error`) is never passed here.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from heliosgrid.db.connection import DatabaseUnavailable
from heliosgrid.settings import redact_url

log = logging.getLogger("heliosgrid.consumer")

MAX_BACKOFF_S = 10.0
"""Longest wait between two attempts."""
JITTER = 0.2
"""Each wait is the backoff × uniform(1 − JITTER, 1 + JITTER)."""


OUTAGE_ERRORS: tuple[type[BaseException], ...] = (DatabaseUnavailable, psycopg.Error)
"""What a database attempt may raise when the database is unavailable. Data errors never get
here: :func:`heliosgrid.ingest.store.store_batch` handles them (ADR 0100)."""


class RetryBudgetExceeded(Exception):
    """The database stayed unavailable past the retry budget (the message says for how long)."""


class ConsumerStopped(Exception):
    """A stop was requested while the database was unavailable."""


def error_line(exc: BaseException) -> str:
    """First line of ``exc``, passwords redacted (the exception's type name when it has no text)."""
    text = redact_url(str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class RetryPolicy:
    """Backoff schedule within a time budget (seconds); ``rng`` is injectable for tests."""

    initial_s: float
    budget_s: float
    max_backoff_s: float = MAX_BACKOFF_S
    rng: random.Random = field(default_factory=random.Random)

    def delays(self) -> _Delays:
        """A fresh schedule for one outage."""
        return _Delays(self)


class _Delays:
    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.backoff = policy.initial_s

    def next(self, elapsed_s: float) -> float | None:
        """The next wait (s) after ``elapsed_s`` of outage, or ``None`` when the budget would be exceeded."""
        p = self.policy
        if elapsed_s + self.backoff > p.budget_s:
            return None
        wait = self.backoff * p.rng.uniform(1 - JITTER, 1 + JITTER)
        self.backoff = min(self.backoff * 2, p.max_backoff_s)
        return wait


class PausableConsumer(Protocol):
    """The part of ``KafkaConsumer`` the outage loop uses."""

    def assignment(self) -> Any: ...
    def paused(self) -> Any: ...
    def pause(self, *partitions: Any) -> None: ...
    def resume(self, *partitions: Any) -> None: ...
    def seek(self, partition: Any, offset: int) -> None: ...
    def poll(self, timeout_ms: int = ..., max_records: int | None = ...) -> Any: ...


def sleep_polling(consumer: PausableConsumer | None, seconds: float, stopped: Callable[[], bool]) -> None:
    """Wait ``seconds`` while polling paused partitions, so the consumer stays in its group.

    A partition assigned by a rebalance in between may not be paused yet: what it returns is
    rewound (``seek``) and it is paused, so nothing fetched here is skipped.
    """
    end = time.monotonic() + seconds
    while not stopped():
        remaining = end - time.monotonic()
        if remaining <= 0:
            return
        if consumer is None:
            time.sleep(min(remaining, 0.2))
            continue
        polled = consumer.poll(timeout_ms=int(min(remaining, 0.2) * 1000))
        for tp, recs in polled.items():
            if recs:
                consumer.seek(tp, min(r.offset for r in recs))
                consumer.pause(tp)


class OutageRetry:
    """Retry one unit of database work through an outage (see the module docstring).

    ``on_retry`` is called before each wait (metrics); ``what`` names the pending work in the
    final error line (e.g. "no offsets committed for 500 in-flight messages").
    """

    def __init__(self, policy: RetryPolicy, database: str, stopped: Callable[[], bool],
                 on_retry: Callable[[], None] | None = None) -> None:
        self.policy = policy
        self.database = database
        self.stopped = stopped
        self.on_retry = on_retry or (lambda: None)

    def wait_or_fail(self, delays: _Delays, started: float, exc: BaseException, consumer: PausableConsumer | None,
                     pending: str) -> None:
        """Sleep the next backoff while polling, or raise when the budget is spent / a stop is requested."""
        elapsed = time.monotonic() - started
        wait = delays.next(elapsed)
        if wait is None:
            raise RetryBudgetExceeded(
                f"database unavailable for {elapsed:.0f} s (retry budget {self.policy.budget_s:g} s, "
                f"HELIOS_DB_RETRY_BUDGET_S) at {redact_url(self.database)}: {error_line(exc)}; {pending}; exiting"
            )
        self.on_retry()
        log.warning("database error (retry in %.1f s, %.0f/%g s of budget used): %s",
                    wait, elapsed, self.policy.budget_s, error_line(exc))
        sleep_polling(consumer, wait, self.stopped)
        if self.stopped():
            raise ConsumerStopped()

    def run(self, attempt: Callable[[], None], consumer: PausableConsumer | None, pending: Callable[[], str],
            first_error: BaseException | None = None) -> None:
        """Call ``attempt`` until it returns, waiting (polling ``consumer``) between outage errors.

        With ``first_error`` the first call is a retry (it waits first). ``pending`` describes the
        uncommitted work for the final error line. Raises :class:`RetryBudgetExceeded` or
        :class:`ConsumerStopped`; other errors of ``attempt`` propagate at once.
        """
        started = time.monotonic()
        delays = self.policy.delays()
        exc = first_error
        while True:
            if exc is not None:
                self.wait_or_fail(delays, started, exc, consumer, pending())
            try:
                attempt()
                return
            except OUTAGE_ERRORS as again:
                exc = again
