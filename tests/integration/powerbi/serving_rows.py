"""Helpers of the serving-layer tests: row-set comparison of materialised relations against their
live definitions or one backend against the other (floats equal to 1e-9, NULL only to NULL), and
two writers at once."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import psycopg


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def same_rows(rows_a: list[tuple[Any, ...]], rows_b: list[tuple[Any, ...]]) -> bool:
    return len(rows_a) == len(rows_b) and all(
        len(x) == len(y) and all(close(u, v) for u, v in zip(x, y, strict=True)) for x, y in zip(rows_a, rows_b, strict=True))


def write_concurrently(url: str, first_write: Callable[[psycopg.Connection], None],
                       second_write: Callable[[psycopg.Connection], None]) -> None:
    """``first_write`` in an open transaction, then ``second_write`` from another session (autocommit),
    which blocks on the first's rows until it commits; both must finish."""
    with psycopg.connect(url) as first, psycopg.connect(url, autocommit=True) as second:
        first_write(first)
        worker = threading.Thread(target=second_write, args=(second,))
        worker.start()
        worker.join(timeout=1.0)
        first.commit()
        worker.join(timeout=30.0)
        assert not worker.is_alive()

