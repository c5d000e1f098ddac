"""Library side of real-time ingest: batch validation against the device registry, metrics.

The service loop lives in ``consumer/`` (``python -m consumer``); everything here is pure or
DB-only so that it can be unit-tested and reused (bench, replay of the dead-letter topic).
"""

from heliosgrid.ingest.batch import (
    BatchOutcome,
    DecodedBatch,
    DeviceRegistry,
    RawMessage,
    check_devices,
    decode_batch,
    validate_batch,
)

__all__ = [
    "BatchOutcome",
    "DecodedBatch",
    "DeviceRegistry",
    "RawMessage",
    "check_devices",
    "decode_batch",
    "validate_batch",
]
