"""Dead-letter records: bounded in size, with the reason and a fingerprint of the full message.

A rejected message is kept whole in the ``quarantine`` table (``raw_payload`` bytea). Its
dead-letter record is a *notification* that must always fit in one Kafka request, whatever the
message's size, so:

* the value is the payload cut to ``max_payload_bytes``; the key is cut to :data:`MAX_KEY_BYTES`;
* headers: ``reason_code``, ``reason_detail`` (≤ 500 characters), ``source_topic``,
  ``source_partition``, ``source_offset``, ``payload_size`` (bytes of the full payload),
  ``payload_sha256`` (hex digest of the full payload), ``payload_truncated`` (``true``/``false``),
  and ``key_size`` / ``key_truncated`` for the key.

:func:`max_record_bytes` is the producer's ``max_request_size``: the largest record this module
can build plus Kafka's per-record framing, so the producer never refuses one (kafka-python
refuses records over its 1 MiB default with ``MessageSizeTooLargeError`` before sending).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from heliosgrid.db.writer import QuarantineRow

MAX_KEY_BYTES: Final = 1024
"""Longest key kept in a dead-letter record (device ids are ≤ 64 characters)."""
MAX_DETAIL_CHARS: Final = 500
"""Longest ``reason_detail`` header (quarantine keeps the same bound)."""
_HEADER_ALLOWANCE: Final = 4096
"""Upper bound of all header names and the fixed-size values (topic ≤ 249 chars, numbers, digest)."""
_FRAMING_ALLOWANCE: Final = 1024
"""Kafka record-batch and request framing around one record."""


@dataclass(frozen=True)
class DeadLetter:
    """One record for the dead-letter topic."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def max_record_bytes(max_payload_bytes: int) -> int:
    """The size bound of any :func:`dead_letter` record built with ``max_payload_bytes``."""
    return max_payload_bytes + MAX_KEY_BYTES + MAX_DETAIL_CHARS * 4 + _HEADER_ALLOWANCE + _FRAMING_ALLOWANCE


def dead_letter(q: QuarantineRow, key: bytes | None, value: bytes | None, max_payload_bytes: int) -> DeadLetter:
    """The bounded dead-letter record of a rejected message (``key``/``value`` as received)."""
    payload = value if value is not None else q.raw_payload
    kept = payload[:max_payload_bytes]
    short_key = None if key is None else key[:MAX_KEY_BYTES]
    headers = [
        ("reason_code", q.reason_code.encode()),
        ("reason_detail", q.reason_detail[:MAX_DETAIL_CHARS].encode("utf-8", "backslashreplace")),
        ("source_topic", q.source_topic.encode()),
        ("source_partition", str(q.source_partition).encode()),
        ("source_offset", str(q.source_offset).encode()),
        ("payload_size", str(len(payload)).encode()),
        ("payload_sha256", hashlib.sha256(payload).hexdigest().encode()),
        ("payload_truncated", b"true" if len(kept) < len(payload) else b"false"),
    ]
    if key is not None:
        headers.append(("key_size", str(len(key)).encode()))
        headers.append(("key_truncated", b"true" if len(key) > MAX_KEY_BYTES else b"false"))
    return DeadLetter(short_key, kept, headers)


def is_truncated(headers: dict[str, bytes]) -> bool:
    """True when a dead-letter record's payload or key is cut (replay it from quarantine, not from Kafka)."""
    return headers.get("payload_truncated") == b"true" or headers.get("key_truncated") == b"true"
