"""The shape of one stored data-quality verdict: a row of the ``dq_results`` table.

Library-side definition shared by readers of ``dq_results`` (the API documents its responses
from it). ``device_id`` is ``''`` for site-scoped checks; ``measured_value`` and ``threshold``
are in the unit the check names (e.g. W/m², kW, a fraction); timestamps are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DqResultRow:
    """One ``dq_results`` row: the verdict of ``check_name`` on ``[window_start, window_end)``."""

    check_name: str
    site_id: str
    device_id: str
    window_start: datetime
    window_end: datetime
    passed: bool
    measured_value: float | None
    threshold: float | None
    details: dict[str, Any]
    run_id: str | None
    checked_at: datetime
