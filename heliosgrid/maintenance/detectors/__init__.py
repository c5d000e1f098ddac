"""Fault detectors: small, documented units over one device's 15-minute feature frame.

Each detector takes the frame built by :func:`heliosgrid.maintenance.expected.site_features`
and returns :class:`Finding` objects with the episode's start and end (UTC, bucket boundaries),
the moment the rule first held (``detected_at``: end of the bucket that completed the evidence),
the evidence numbers, the energy lost and a recommended action.

Modules: :mod:`.thresholds` (every threshold, one table), :mod:`.base` (Finding, helpers),
:mod:`.trip` (inverter trip), :mod:`.loss` (string outage), :mod:`.soiling`, :mod:`.sensors` (stuck, drift),
:mod:`.status` (overheating, comm gap, clipping, degradation).
"""

from heliosgrid.contract import FAULT_TYPES
from heliosgrid.maintenance.detectors.base import ACTIONS, ALL_TYPES, INFO_TYPES, Finding, loss_kwh, merge_runs, runs
from heliosgrid.maintenance.detectors.loss import detect_string_outage
from heliosgrid.maintenance.detectors.sensors import detect_irradiance_drift, detect_stuck_sensor, stale
from heliosgrid.maintenance.detectors.soiling import clearsky_envelope_loss, detect_soiling
from heliosgrid.maintenance.detectors.status import (
    detect_clipping,
    detect_comm_gap,
    detect_degradation,
    detect_overheating,
    detect_snow_loss,
)
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.maintenance.detectors.trip import detect_inverter_trip

__all__ = [
    "ACTIONS",
    "ALL_TYPES",
    "DEFAULT",
    "FAULT_TYPES",
    "INFO_TYPES",
    "Finding",
    "Thresholds",
    "clearsky_envelope_loss",
    "detect_clipping",
    "detect_comm_gap",
    "detect_degradation",
    "detect_inverter_trip",
    "detect_irradiance_drift",
    "detect_overheating",
    "detect_snow_loss",
    "detect_soiling",
    "detect_string_outage",
    "detect_stuck_sensor",
    "loss_kwh",
    "merge_runs",
    "runs",
    "stale",
]
