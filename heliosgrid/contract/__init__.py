"""Message contract of the readings stream (one module for every schema that crosses a process).

Contract v1, JSON, one message per sensor reading, Kafka key = ``device_id`` (so one device's
readings stay in order on one partition). The JSON Schema exported from :class:`ReadingV1` is
checked in at ``heliosgrid/contract/reading_v1.schema.json`` (``heliosgrid contract schema``).
"""

from heliosgrid.contract.reading import (
    DEFAULT_TS_WINDOW,
    FAULT_TYPES,
    INVERTER_STATUSES,
    MEASURE_FIELDS,
    MEASURE_RANGES,
    NOMINAL_SAMPLE_INTERVAL_S,
    REASON_CODES,
    SCHEMA_VERSION,
    ReadingV1,
    Rejection,
    TimestampWindow,
    decode_reading,
    encode_reading,
    json_schema,
)

__all__ = [
    "DEFAULT_TS_WINDOW",
    "FAULT_TYPES",
    "INVERTER_STATUSES",
    "MEASURE_FIELDS",
    "MEASURE_RANGES",
    "NOMINAL_SAMPLE_INTERVAL_S",
    "REASON_CODES",
    "SCHEMA_VERSION",
    "ReadingV1",
    "Rejection",
    "TimestampWindow",
    "decode_reading",
    "encode_reading",
    "json_schema",
]
