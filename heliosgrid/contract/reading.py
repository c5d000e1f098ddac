"""Reading message, contract v1: schema, validation, cleaning and rejection reasons.

Units are in the field names: irradiance W/m², temperature °C, power kW. ``ts`` is the sensor
timestamp (timezone-aware, ISO 8601); ``seq`` is the producer's per-device sequence number,
strictly increasing for each device (used to prove nothing is lost or duplicated).

Types are strict (what the JSON Schema says): measures are JSON numbers (not strings or
booleans), ``seq`` a JSON integer, ``ts`` an ISO 8601 string (not Unix time).

Cleaning (applied, not rejected): irradiance in [-20, 0) W/m² (sensor night offset) becomes 0;
power in [-1, 0) kW (inverter night consumption) becomes 0; ``ts`` is normalised to UTC.
Anything outside the physical ranges below is rejected with a reason code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCHEMA_VERSION = 1
NOMINAL_SAMPLE_INTERVAL_S = 60
"""Contract cadence: each device reports once a minute (rollup completeness assumes it)."""

INVERTER_STATUSES = ("ok", "standby", "fault", "off")
MEASURE_FIELDS: tuple[str, ...] = (
    "ghi_w_m2",
    "poa_w_m2",
    "ambient_temp_c",
    "module_temp_c",
    "dc_power_kw",
    "ac_power_kw",
)
"""The numeric measures of a reading, in wire and table order (units in the names)."""

FAULT_TYPES: tuple[str, ...] = (
    "inverter_trip",
    "string_outage",
    "soiling",
    "stuck_sensor",
    "irradiance_drift",
    "overheating",
    "comm_gap",
)
"""Plant fault taxonomy shared by the simulator's ground truth (``fault_events``) and the detectors."""
MAX_FUTURE_SKEW = timedelta(minutes=5)
"""Default of how far ``ts`` may run ahead of the consumer's clock (``HELIOS_INGEST_MAX_FUTURE_SKEW_S``)."""
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
"""Default floor of ``ts`` (``HELIOS_INGEST_TS_EARLIEST``): no monitored plant reports from before 2000,
and an absurdly old stamp (year 1, 1900, 1970) would make the rollup refresh create a partition for
every month in between."""
SEQ_MAX = 2**63 - 1
"""Largest ``seq`` the ``readings.seq`` bigint column holds."""

MEASURE_RANGES: dict[str, tuple[float, float]] = {
    "ghi_w_m2": (-20, 1500),
    "poa_w_m2": (-20, 1800),
    "ambient_temp_c": (-50, 65),
    "module_temp_c": (-50, 110),
    "dc_power_kw": (-1, 100_000),
    "ac_power_kw": (-1, 100_000),
}
"""Accepted physical range ``(min, max)`` of each measure, inclusive, in the unit of its name
(before cleaning). The one definition of these limits: :class:`ReadingV1` and the ingest fast
path (:mod:`heliosgrid.ingest.fastdecode`) are both built from it."""
NIGHT_CLIPPED_FIELDS: tuple[str, ...] = ("ghi_w_m2", "poa_w_m2", "dc_power_kw", "ac_power_kw")
"""Measures whose small negative night offsets (down to their range minimum) are cleaned to 0."""
AC_OVER_DC_MAX_RATIO = 1.02
AC_OVER_DC_MARGIN_KW = 0.5
"""``ac_power_kw`` may exceed ``dc_power_kw`` by at most this ratio plus margin (metering tolerance)."""
MODULE_BELOW_AMBIENT_MAX_C = 25.0
"""A module this much colder than the ambient air (°C) contradicts physics (radiative cooling is a few °C)."""


def implausibility(
    ac_power_kw: float | None, dc_power_kw: float | None, module_temp_c: float | None, ambient_temp_c: float | None
) -> str | None:
    """Why the (cleaned) values contradict each other physically, or ``None`` when they do not.

    The one definition of the contract's cross-field rules, shared by :class:`ReadingV1` and the
    ingest fast path.
    """
    if (
        ac_power_kw is not None
        and dc_power_kw is not None
        and dc_power_kw > 0
        and ac_power_kw > dc_power_kw * AC_OVER_DC_MAX_RATIO + AC_OVER_DC_MARGIN_KW
    ):
        return f"implausible: ac_power_kw {ac_power_kw:g} exceeds dc_power_kw {dc_power_kw:g}"
    if module_temp_c is not None and ambient_temp_c is not None and module_temp_c < ambient_temp_c - MODULE_BELOW_AMBIENT_MAX_C:
        return f"implausible: module_temp_c more than {MODULE_BELOW_AMBIENT_MAX_C:g} °C below ambient_temp_c"
    return None


@dataclass(frozen=True)
class TimestampWindow:
    """The plausible span of a sensor timestamp, relative to the consumer's clock ``now`` (UTC).

    ``ts`` is accepted when ``earliest_at(now) <= ts <= latest_at(now)``: not before ``earliest``,
    not older than ``max_age`` (when set; the consumer uses the raw-data retention, since older
    readings would be dropped at once), not more than ``max_future_skew`` ahead.
    """

    earliest: datetime = EARLIEST_TS
    max_age: timedelta | None = None
    max_future_skew: timedelta = MAX_FUTURE_SKEW

    def earliest_at(self, now: datetime) -> datetime:
        """The oldest ``ts`` accepted at ``now``."""
        if self.max_age is None:
            return self.earliest
        return max(self.earliest, now - self.max_age)

    def latest_at(self, now: datetime) -> datetime:
        """The newest ``ts`` accepted at ``now``."""
        return now + self.max_future_skew

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """``(earliest_at(now), latest_at(now))``: compute once per batch."""
        return self.earliest_at(now), self.latest_at(now)


DEFAULT_TS_WINDOW = TimestampWindow()

REASON_CODES: dict[str, str] = {
    "malformed_json": "payload is not valid UTF-8 JSON",
    "not_an_object": "payload is JSON but not an object",
    "unsupported_schema_version": "schema_version is missing or not supported",
    "missing_field": "a required field is absent",
    "wrong_type": "a field has the wrong type",
    "out_of_range": "a value is outside its physical range",
    "implausible": "values contradict each other physically",
    "future_timestamp": "timestamp is further ahead of the consumer's clock than the allowed skew (default 5 minutes)",
    "stale_timestamp": "timestamp is before the accepted window (default 2000-01-01, and older than the raw-data retention)",
    "key_mismatch": "Kafka message key differs from device_id",
    "unknown_device": "device_id is not registered in the devices table",
    "db_rejected": "the database refused the message's row (the detail names the constraint or error)",
    "undecodable_batch": "a Kafka record batch could not be decoded (failed CRC, unreadable compression, broken "
    "record): the raw batch is kept whole, the detail names its offsets and the error",
}

_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _measure(name: str, description: str) -> Any:
    low, high = MEASURE_RANGES[name]
    return Field(default=None, strict=True, ge=low, le=high, allow_inf_nan=False, description=description)


class ReadingV1(BaseModel):
    """One sensor reading (contract v1). Optional measures are null when the device lacks the sensor."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=False)

    schema_version: Literal[1]
    device_id: str = Field(pattern=_ID_PATTERN, description="Device identifier; also the Kafka key.")
    site_id: str = Field(pattern=_ID_PATTERN, description="Site the device belongs to.")
    ts: datetime = Field(description="Sensor timestamp, ISO 8601 with offset; stored as UTC.")
    seq: int = Field(
        strict=True, ge=0, le=SEQ_MAX, description="Per-device sequence number, strictly increasing (fits a bigint)."
    )
    ghi_w_m2: float | None = _measure("ghi_w_m2", "Global horizontal irradiance, W/m².")
    poa_w_m2: float | None = _measure("poa_w_m2", "Plane-of-array irradiance, W/m².")
    ambient_temp_c: float | None = _measure("ambient_temp_c", "Ambient air temperature, °C.")
    module_temp_c: float | None = _measure("module_temp_c", "Module back-sheet temperature, °C.")
    dc_power_kw: float | None = _measure("dc_power_kw", "Inverter DC input power, kW.")
    ac_power_kw: float | None = _measure("ac_power_kw", "Inverter AC output power, kW.")
    inverter_status: Literal["ok", "standby", "fault", "off"] | None = Field(
        default=None, description="Inverter state; null for weather stations."
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # True == 1 in Python; the contract wants the number 1
            raise ValueError("schema_version must be the integer 1")
        return value

    @field_validator("ts", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        # pydantic would read numbers, and strings such as "12.5", as Unix time
        if not isinstance(value, datetime) and not (isinstance(value, str) and _ISO_DATETIME.match(value)):
            raise ValueError("timestamp must be an ISO 8601 date-time string with offset (e.g. 2026-01-01T12:00:00Z)")
        return value

    @field_validator("ts")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp needs a UTC offset (e.g. 2026-01-01T12:00:00Z)")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("timestamp out of range once converted to UTC") from None

    @field_validator(*NIGHT_CLIPPED_FIELDS)
    @classmethod
    def _clip_night_offset(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            return 0.0
        return value

    @model_validator(mode="after")
    def _plausible(self) -> ReadingV1:
        reason = implausibility(self.ac_power_kw, self.dc_power_kw, self.module_temp_c, self.ambient_temp_c)
        if reason is not None:
            raise ValueError(reason)
        return self


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused: a code from :data:`REASON_CODES` and a human-readable detail."""

    reason_code: str
    reason_detail: str


def _classify(exc: ValidationError) -> Rejection:
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "message"
    kind = first["type"]
    msg = first["msg"]
    if loc == "schema_version":
        code = "unsupported_schema_version"
    elif kind == "missing":
        code = "missing_field"
    elif "implausible" in msg:
        code = "implausible"
    elif kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than", "finite_number"} or (
        "out of range" in msg
    ):
        code = "out_of_range"
    else:
        code = "wrong_type"
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in errors[:5])
    return Rejection(code, detail[:500])


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON literal {name} (JSON numbers are finite)")


def _parse_json(raw: bytes) -> Any:
    """Strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` (Python's extensions) are refused anywhere."""
    return json.loads(raw, parse_constant=_no_constant)


def _framing_hint(raw: bytes) -> str | None:
    """Why a value that is not JSON may still hold a reading: the Confluent Schema Registry wire format
    (magic byte 0, a 4-byte schema id, then the payload), which Confluent's JSON/Avro serializers write."""
    if len(raw) > 5 and raw[0] == 0:
        schema_id = int.from_bytes(raw[1:5], "big")
        body = "JSON" if raw[5:6] == b"{" else "binary (Avro or Protobuf?)"
        return (f"Confluent Schema Registry framing (magic byte 0, schema id {schema_id}) before a {body} payload: "
                "the contract takes plain JSON values — use a plain JSON or string serializer")
    return None


def decode_reading(
    raw: bytes | None, key: bytes | None = None, now: datetime | None = None,
    window: TimestampWindow = DEFAULT_TS_WINDOW,
) -> ReadingV1 | Rejection:
    """Decode and validate one Kafka message value. Never raises for bad input.

    ``now`` (UTC) anchors ``window`` (the accepted span of ``ts``); pass it once per batch for speed.
    """
    if raw is None:
        return Rejection("malformed_json", "empty message (tombstone)")
    try:
        obj: Any = _parse_json(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejection("malformed_json", _framing_hint(raw) or f"{type(exc).__name__}: {exc}"[:500])
    except ValueError as exc:  # a NaN/Infinity literal
        return Rejection("malformed_json", str(exc)[:500])
    except RecursionError:
        return Rejection("malformed_json", "JSON nested too deeply")
    if not isinstance(obj, dict):
        return Rejection("not_an_object", f"payload is a JSON {type(obj).__name__}")
    if obj.get("schema_version") != SCHEMA_VERSION or isinstance(obj.get("schema_version"), bool):
        return Rejection(
            "unsupported_schema_version", f"schema_version {obj.get('schema_version')!r}; supported: {SCHEMA_VERSION}"
        )
    try:
        reading = ReadingV1.model_validate(obj)
    except ValidationError as exc:
        return _classify(exc)
    if key is not None and key.decode("utf-8", "replace") != reading.device_id:
        return Rejection("key_mismatch", f"key {key[:64]!r} != device_id {reading.device_id!r}")
    return _check_window(reading, now or datetime.now(UTC), window)


def _check_window(reading: ReadingV1, now: datetime, window: TimestampWindow) -> ReadingV1 | Rejection:
    earliest, latest = window.bounds(now)
    if reading.ts > latest:
        return Rejection("future_timestamp", f"ts {reading.ts.isoformat()} is ahead of {now.isoformat()} "
                         f"by more than {window.max_future_skew}")
    if reading.ts < earliest:
        return Rejection("stale_timestamp", f"ts {reading.ts.isoformat()} is before the earliest accepted "
                         f"{earliest.isoformat()}")
    return reading


def encode_reading(reading: ReadingV1) -> bytes:
    """Serialise a reading to its wire form (compact JSON, ``ts`` as ISO 8601 UTC with 'Z')."""
    data = reading.model_dump(mode="json", exclude_none=False)
    data["ts"] = reading.ts.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"
    return json.dumps(data, separators=(",", ":")).encode()


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of contract v1."""
    schema = ReadingV1.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://heliosgrid.example/contracts/reading/v1.json"
    schema["title"] = "HeliosGrid reading, contract v1"
    schema["description"] = (
        "One sensor reading. Kafka key = device_id. Units in field names. "
        f"Nominal cadence {NOMINAL_SAMPLE_INTERVAL_S} s per device."
    )
    return schema
