"""Fast path of the contract-v1 decode: valid messages straight to COPY row tuples.

:func:`decode_row_fast` parses one message value with a msgspec ``Struct`` decoder (C, one
pass, typed and range-checked while parsing) and returns the reading's row tuple in
:data:`heliosgrid.db.writer.READING_COLUMNS` order — no ``dict``, no pydantic model. It is a
*filter*, not a second contract: it only ever accepts a strict subset of what
:func:`heliosgrid.contract.decode_reading` accepts, and returns ``None`` for everything else
(anything unusual, anything invalid, any key/clock problem). The caller then runs the canonical
decoder, which gives the exact rejection reason, so reason codes never depend on the path.

The subset, chosen so that equivalence is easy to argue and is checked by the hypothesis test
``tests/unit/consumer/test_fastdecode.py`` (fast path never accepts what the contract rejects;
identical values, types included, when both accept):

* the payload is pure ASCII (so valid UTF-8; anything else goes to the canonical path);
* the same fields, types, ranges and literals as :class:`heliosgrid.contract.ReadingV1`
  (floats accept JSON integers, as pydantic's strict float does; ``seq`` a JSON integer ≥ 0;
  ``schema_version`` exactly the integer 1; unknown fields ignored);
* ``ts`` only in the canonical wire form ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)``;
* the contract's cleaning (night offsets of irradiance and power clipped to 0), plausibility
  rules, key check and future-timestamp bound are applied exactly as the contract does.

Units: irradiance W/m², temperature °C, power kW, ``ts`` UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Literal

import msgspec

from heliosgrid.contract.reading import MAX_FUTURE_SKEW, SEQ_MAX
from heliosgrid.db.writer import ReadingRow

_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})\Z")


class _ReadingV1Wire(msgspec.Struct, frozen=True, gc=False):
    """Contract v1 as msgspec types, with the bounds of :class:`heliosgrid.contract.ReadingV1`.

    The id pattern is checked by :func:`_valid_id` (cached) rather than by ``msgspec.Meta``
    (which calls ``re`` for every message: ~1 µs of the ~1.4 µs decode).
    """

    schema_version: Literal[1]
    device_id: str
    site_id: str
    ts: str
    seq: Annotated[int, msgspec.Meta(ge=0, le=SEQ_MAX)]
    ghi_w_m2: Annotated[float, msgspec.Meta(ge=-20, le=1500)] | None = None
    poa_w_m2: Annotated[float, msgspec.Meta(ge=-20, le=1800)] | None = None
    ambient_temp_c: Annotated[float, msgspec.Meta(ge=-50, le=65)] | None = None
    module_temp_c: Annotated[float, msgspec.Meta(ge=-50, le=110)] | None = None
    dc_power_kw: Annotated[float, msgspec.Meta(ge=-1, le=100_000)] | None = None
    ac_power_kw: Annotated[float, msgspec.Meta(ge=-1, le=100_000)] | None = None
    inverter_status: Literal["ok", "standby", "fault", "off"] | None = None


_decoder = msgspec.json.Decoder(_ReadingV1Wire)


@lru_cache(maxsize=65536)
def _valid_id(text: str) -> bool:
    """``text`` matches the contract's id pattern ``^[A-Za-z0-9_.-]{1,64}$`` (no trailing newline)."""
    return _ID_PATTERN.match(text) is not None


@lru_cache(maxsize=4096)
def _parse_ts(text: str) -> datetime | None:
    """``text`` (canonical wire form only) as an aware UTC datetime, or ``None``.

    Cached: a fleet samples on the same clock ticks, so one batch holds few distinct stamps.
    """
    if _TS.match(text) is None:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def decode_row_fast(raw: bytes | None, key: bytes | None, latest_ts: datetime) -> ReadingRow | None:
    """The row of a valid, plain message, or ``None`` (then ask :func:`decode_reading`).

    ``latest_ts`` is ``now + MAX_FUTURE_SKEW`` (UTC), computed once per batch: a reading with a
    later ``ts`` is left to the canonical path (``future_timestamp``). ``key`` (the Kafka key)
    must equal ``device_id`` when present. Never raises for bad input.
    """
    if raw is None or not raw.isascii():
        return None
    try:
        m = _decoder.decode(raw)
    except msgspec.DecodeError:  # includes ValidationError (wrong type, range, missing field)
        return None
    if not (_valid_id(m.device_id) and _valid_id(m.site_id)):
        return None
    if key is not None and key.decode("utf-8", "replace") != m.device_id:
        return None
    ts = _parse_ts(m.ts)
    if ts is None or ts > latest_ts:
        return None
    # msgspec returns float for JSON integers too (as pydantic's strict float does).
    ghi, poa, dc, ac = m.ghi_w_m2, m.poa_w_m2, m.dc_power_kw, m.ac_power_kw
    # The contract's cleaning: night offsets of irradiance and power become 0.0.
    if ghi is not None and ghi < 0:
        ghi = 0.0
    if poa is not None and poa < 0:
        poa = 0.0
    if dc is not None and dc < 0:
        dc = 0.0
    if ac is not None and ac < 0:
        ac = 0.0
    if ac is not None and dc is not None and dc > 0 and ac > dc * 1.02 + 0.5:
        return None
    ambient, module = m.ambient_temp_c, m.module_temp_c
    if module is not None and ambient is not None and module < ambient - 25:
        return None
    return (m.device_id, ts, m.site_id, ghi, poa, ambient, module, dc, ac, m.inverter_status, m.seq)


def latest_allowed_ts(now: datetime) -> datetime:
    """``now + MAX_FUTURE_SKEW``: the latest sensor timestamp accepted at ``now`` (UTC)."""
    return now + MAX_FUTURE_SKEW


__all__ = ["decode_row_fast", "latest_allowed_ts"]
