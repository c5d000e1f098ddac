"""Data-quality and freshness checks (pvanalytics where it has the check) and their storage.

``run_quality(conn, settings, window_start, window_end)`` checks every device over a window,
upserts one ``dq_results`` row per check, scope and window, and raises/resolves quality alerts.
"""

from heliosgrid.quality.checks import CHECK_NAMES, CheckResult, DeviceInfo, Thresholds, run_device_checks
from heliosgrid.quality.runner import QualityInputError, QualityReport, run_quality

__all__ = [
    "CHECK_NAMES",
    "CheckResult",
    "DeviceInfo",
    "QualityInputError",
    "QualityReport",
    "Thresholds",
    "run_device_checks",
    "run_quality",
]
