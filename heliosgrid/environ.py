"""Temporarily set process environment variables and put back what was there before.

For harnesses that must hand settings to code reading ``os.environ`` at import or call time
(the fleet benchmark, the Airflow DAG tests). Production code reads its configuration through
:mod:`heliosgrid.settings` only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def patched_environ(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Apply ``changes`` to ``os.environ`` (``None`` = unset the variable) for the ``with`` block.

    On exit every named key gets back its previous value, or is removed again if it was not set
    before, whether the block returned or raised. Keys not named in ``changes`` are left alone.
    """
    saved = {key: os.environ.get(key) for key in changes}
    try:
        _apply(changes)
        yield
    finally:
        _apply(saved)


def _apply(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
