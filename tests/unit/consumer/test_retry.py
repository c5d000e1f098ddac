"""The outage retry schedule: exponential, capped, jittered, bounded by the budget."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.retry import JITTER, MAX_BACKOFF_S, OutageRetry, RetryBudgetExceeded, RetryPolicy


@settings(max_examples=200, deadline=None)
@given(st.floats(0.01, 5), st.floats(1, 600), st.integers(0, 2**32))
def test_waits_double_up_to_the_cap_with_bounded_jitter_and_stop_at_the_budget(initial: float, budget: float,
                                                                               seed: int) -> None:
    delays = RetryPolicy(initial, budget, rng=random.Random(seed)).delays()
    elapsed, nominal, waits = 0.0, initial, 0
    while True:
        wait = delays.next(elapsed)
        if wait is None:
            assert elapsed + nominal > budget  # gave up only when the next nominal wait would overrun
            break
        assert nominal * (1 - JITTER) <= wait <= nominal * (1 + JITTER)
        assert elapsed + nominal <= budget
        elapsed += wait
        nominal = min(nominal * 2, MAX_BACKOFF_S)
        waits += 1
        assert waits < 10_000
    assert waits >= 1 or initial > budget


def test_run_retries_outage_errors_then_gives_up_with_one_clear_message() -> None:
    import psycopg

    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise psycopg.OperationalError("connection refused by postgresql://app:secret@db:5432/x")

    retry = OutageRetry(RetryPolicy(0.01, 0.2, rng=random.Random(1)), "postgresql://app:secret@db:5432/x",
                        stopped=lambda: False)
    try:
        retry.run(attempt, None, lambda: "no offsets committed for 7 in-flight messages")
    except RetryBudgetExceeded as exc:
        text = str(exc)
    else:
        raise AssertionError("expected RetryBudgetExceeded")
    assert len(calls) >= 3
    assert "secret" not in text and "no offsets committed for 7 in-flight messages" in text
    assert "retry budget 0.2 s" in text


def test_run_does_not_retry_other_errors() -> None:
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise ValueError("not an outage")

    retry = OutageRetry(RetryPolicy(0.01, 5), "db", stopped=lambda: False)
    with pytest.raises(ValueError, match="not an outage"):
        retry.run(attempt, None, lambda: "")
    assert calls == [1]
