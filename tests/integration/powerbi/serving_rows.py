"""Row-set comparison for the serving-layer tests: materialised relations against their live
definitions, one backend against the other (floats equal to 1e-9, NULL only to NULL)."""

from __future__ import annotations

import math
from typing import Any


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def same_rows(rows_a: list[tuple[Any, ...]], rows_b: list[tuple[Any, ...]]) -> bool:
    return len(rows_a) == len(rows_b) and all(
        len(x) == len(y) and all(close(u, v) for u, v in zip(x, y, strict=True)) for x, y in zip(rows_a, rows_b, strict=True))
