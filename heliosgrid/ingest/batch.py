"""Validate one micro-batch of raw Kafka messages: decode, check the device registry, split.

Each message is decoded with :func:`heliosgrid.contract.decode_reading` (one ``now`` per batch
bounds the future-timestamp check); readings of devices that are not registered, or that claim
a different site than the registry, are rejected with ``unknown_device``. Nothing is dropped:
every input message ends up either in :attr:`BatchOutcome.readings` or in
:attr:`BatchOutcome.rejects` (with its source topic/partition/offset and raw bytes).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from pydantic import ValidationError

from heliosgrid.contract import ReadingV1, Rejection, decode_reading
from heliosgrid.contract.reading import MAX_FUTURE_SKEW
from heliosgrid.db.writer import QuarantineRow


@dataclass(frozen=True)
class RawMessage:
    """The parts of a Kafka record ingest needs (kafka-python's ConsumerRecord has them all)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class BatchOutcome:
    """The split of one batch: valid readings and rejected messages (quarantine rows)."""

    readings: list[ReadingV1] = field(default_factory=list)
    rejects: list[QuarantineRow] = field(default_factory=list)

    def rejects_by_reason(self) -> dict[str, int]:
        """Count of rejected messages per reason code."""
        out: dict[str, int] = {}
        for r in self.rejects:
            out[r.reason_code] = out.get(r.reason_code, 0) + 1
        return out


def _key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", "replace")[:256]


def _reject(msg: RawMessage, code: str, detail: str) -> QuarantineRow:
    return QuarantineRow(
        source_topic=msg.topic,
        source_partition=msg.partition,
        source_offset=msg.offset,
        message_key=_key_text(msg.key),
        raw_payload=msg.value if msg.value is not None else b"",
        reason_code=code,
        reason_detail=detail[:500],
    )


@dataclass
class DecodedBatch:
    """First stage of a batch: readings that passed the contract, and contract rejects."""

    decoded: list[tuple[RawMessage, ReadingV1]] = field(default_factory=list)
    rejects: list[QuarantineRow] = field(default_factory=list)

    @property
    def device_ids(self) -> set[str]:
        """Device ids named by the decoded readings."""
        return {r.device_id for _, r in self.decoded}


def decode_fast(raw: bytes | None, key: bytes | None, now: datetime) -> ReadingV1 | Rejection:
    """Same result as :func:`heliosgrid.contract.decode_reading`, about twice as fast for valid input.

    Valid messages are parsed and validated in one pass by pydantic-core's JSON parser
    (``model_validate_json``); anything it refuses, and any key/clock problem, goes through the
    canonical :func:`decode_reading`, which produces the exact rejection reason. The property
    test ``test_fast_decode_agrees_with_the_contract`` checks that both always agree.
    """
    if raw is not None:
        try:
            reading = ReadingV1.model_validate_json(raw)
        except ValidationError:
            pass
        else:
            if (key is None or key.decode("utf-8", "replace") == reading.device_id) and (
                reading.ts <= now + MAX_FUTURE_SKEW
            ):
                return reading
    return decode_reading(raw, key, now)


def decode_batch(messages: Iterable[RawMessage], now: datetime | None = None) -> DecodedBatch:
    """Decode every message against contract v1 (CPU only, no database).

    ``now`` (UTC, default: the current time) bounds the future-timestamp check for the whole batch.
    """
    now = now or datetime.now(UTC)
    out = DecodedBatch()
    for msg in messages:
        result = decode_fast(msg.value, msg.key, now)
        if isinstance(result, Rejection):
            out.rejects.append(_reject(msg, result.reason_code, result.reason_detail))
        else:
            out.decoded.append((msg, result))
    return out


def check_devices(batch: DecodedBatch, device_sites: Mapping[str, str]) -> BatchOutcome:
    """Second stage: keep readings of registered devices at their registered site.

    ``device_sites`` maps device_id → site_id; anything else is rejected as ``unknown_device``.
    """
    out = BatchOutcome(rejects=list(batch.rejects))
    for msg, reading in batch.decoded:
        site = device_sites.get(reading.device_id)
        if site is None:
            out.rejects.append(_reject(msg, "unknown_device", f"device_id {reading.device_id!r} is not registered"))
        elif site != reading.site_id:
            out.rejects.append(
                _reject(
                    msg,
                    "unknown_device",
                    f"device_id {reading.device_id!r} is registered at site {site!r}, message says {reading.site_id!r}",
                )
            )
        else:
            out.readings.append(reading)
    return out


def validate_batch(
    messages: Iterable[RawMessage], device_sites: Mapping[str, str], now: datetime | None = None
) -> BatchOutcome:
    """Both stages at once: :func:`decode_batch` then :func:`check_devices`."""
    return check_devices(decode_batch(messages, now), device_sites)


class DeviceRegistry:
    """Cache of ``devices`` (device_id → site_id), refreshed every ``ttl_s`` seconds.

    When a batch names a device the cache does not know, the cache is re-read at most once
    every ``miss_refresh_s`` seconds before the reading is rejected, so a device registered a
    moment ago is accepted without waiting for the TTL.
    """

    def __init__(self, ttl_s: float = 60.0, miss_refresh_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self.miss_refresh_s = miss_refresh_s
        self._sites: dict[str, str] = {}
        self._loaded_at = float("-inf")

    def load(self, conn: psycopg.Connection[Any]) -> None:
        """Read the whole registry now."""
        rows = conn.execute("SELECT device_id, site_id FROM devices").fetchall()
        self._sites = {str(d): str(s) for d, s in rows}
        self._loaded_at = time.monotonic()

    def sites_for(self, conn: psycopg.Connection[Any], needed: set[str]) -> Mapping[str, str]:
        """The mapping, re-read from ``conn`` first when stale or missing one of ``needed``."""
        age = time.monotonic() - self._loaded_at
        if age > self.ttl_s or (age > self.miss_refresh_s and not needed.issubset(self._sites)):
            self.load(conn)
        return self._sites

    def __len__(self) -> int:
        return len(self._sites)
