"""The shape of a data-quality verdict, defined once: :class:`CheckResult` (what a check
decides) and :class:`DqResultRow` (the same verdict as stored in ``dq_results``, with the run
that wrote it).

Light on purpose (standard library only): the checks (:mod:`heliosgrid.quality.checks`) and the
API (which documents its responses from :class:`DqResultRow`) both import it. ``device_id`` is
``''`` for site-scoped checks; ``measured_value`` and ``threshold`` are in the unit the check
names (e.g. W/m², kW, a fraction); timestamps are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """One data-quality verdict of ``check_name`` on ``[window_start, window_end)``."""

    check_name: str
    site_id: str
    device_id: str
    window_start: datetime
    window_end: datetime
    passed: bool
    measured_value: float | None
    threshold: float | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DqResultRow(CheckResult):
    """One ``dq_results`` row: a :class:`CheckResult` plus the run that stored it."""

    run_id: str | None
    checked_at: datetime
