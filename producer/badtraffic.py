"""Bad traffic on purpose: messages the consumer must reject (each with a known reason code)
and awkward-but-valid messages it must store idempotently (duplicates, out of order, late).

Two entry points:

* :func:`make_bad_messages` — exactly ``n`` messages of one kind, deterministic for a seed
  (tests use it: ``make_bad_messages("wrong_type", 5, seed=1)`` → list of
  ``(key, value, expected_reason_code)``; the expected code is ``None`` for the valid kinds).
* :class:`BadTrafficInjector` — used by the producer loop: at ``Settings.bad_message_rate``
  per good message it adds a rejectable message, re-sends a message (duplicate), or holds a
  good message back and releases it later (out of order / late). Held-back messages are always
  released (also on shutdown), so nothing good is lost.

Kinds and the reason code :func:`heliosgrid.contract.decode_reading` gives them:

==========================  =============================  =================================
kind                        what is sent                   expected reason code
==========================  =============================  =================================
malformed_json              truncated/invalid JSON, bytes  malformed_json
not_an_object               a JSON array/number/string     not_an_object
unsupported_schema_version  schema_version 2 / missing     unsupported_schema_version
missing_field               device_id/site_id/ts/seq gone  missing_field
wrong_type                  "n/a" for a number, bad ts…    wrong_type
out_of_range                POA 5000 W/m², 300 °C, seq −1  out_of_range
implausible                 AC > DC, module ≪ ambient      implausible
future_timestamp            ts one day ahead               future_timestamp
key_mismatch                key ≠ device_id                key_mismatch
unknown_device              unregistered device_id         unknown_device (consumer registry)
duplicate                   exact re-send of a reading     None (valid; stored once)
out_of_order                older reading after newer one  None (valid)
late                        reading hours behind           None (valid; lands in its bucket)
==========================  =============================  =================================
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from heliosgrid.contract import SCHEMA_VERSION

REJECT_KINDS: tuple[str, ...] = (
    "malformed_json",
    "not_an_object",
    "unsupported_schema_version",
    "missing_field",
    "wrong_type",
    "out_of_range",
    "implausible",
    "future_timestamp",
    "key_mismatch",
    "unknown_device",
)
VALID_KINDS: tuple[str, ...] = ("duplicate", "out_of_order", "late")
BAD_KINDS: tuple[str, ...] = REJECT_KINDS + VALID_KINDS
EXPECTED_REASON: dict[str, str | None] = {**{k: k for k in REJECT_KINDS}, **dict.fromkeys(VALID_KINDS)}

DEFAULT_DEVICES: tuple[tuple[str, str], ...] = (
    ("es-tabernas-inv01", "es-tabernas"),
    ("es-tabernas-inv02", "es-tabernas"),
    ("es-sevilla-inv01", "es-sevilla"),
    ("us-golden-inv01", "us-golden"),
)
"""(device_id, site_id) pairs of the demo fleet used when the caller gives none."""

BadMessage = tuple[bytes, bytes, str | None]
"""``(key, value, expected_reason_code)``; the code is None for valid kinds."""


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def valid_reading(device_id: str, site_id: str, ts: datetime, rng: random.Random) -> dict[str, Any]:
    """A physically consistent inverter reading of contract v1 (daytime values) as a dict."""
    poa = round(rng.uniform(300.0, 900.0), 1)
    dc = round(poa * 0.25, 3)
    return {
        "schema_version": SCHEMA_VERSION,
        "device_id": device_id,
        "site_id": site_id,
        "ts": _ts(ts),
        "seq": int(ts.timestamp() // 60),
        "ghi_w_m2": None,
        "poa_w_m2": poa,
        "ambient_temp_c": round(rng.uniform(10.0, 30.0), 2),
        "module_temp_c": round(rng.uniform(30.0, 50.0), 2),
        "dc_power_kw": dc,
        "ac_power_kw": round(dc * 0.96, 3),
        "inverter_status": "ok",
    }


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _reject(kind: str, i: int, rng: random.Random, base: dict[str, Any], now: datetime) -> tuple[bytes, bytes]:
    key = str(base["device_id"]).encode()
    msg = dict(base)
    variant = i % 4
    if kind == "malformed_json":
        text = _dump(msg)
        return key, [text[: len(text) // 2], b"not json at all", b"\xff\xfe\x00garbage", b""][variant]
    if kind == "not_an_object":
        return key, [_dump([msg]), b"42", b'"a string"', b"null"][variant]
    if kind == "unsupported_schema_version":
        if variant == 0:
            del msg["schema_version"]
        else:
            msg["schema_version"] = [2, "1", 0][variant - 1]
        return key, _dump(msg)
    if kind == "missing_field":
        del msg[["device_id", "site_id", "ts", "seq"][variant]]
        return key, _dump(msg)
    if kind == "wrong_type":
        name, value = [
            ("poa_w_m2", "n/a"),
            ("seq", "abc"),
            ("ts", "yesterday at noon"),
            ("inverter_status", "exploded"),
        ][variant]
        msg[name] = value
        return key, _dump(msg)
    if kind == "out_of_range":
        bad_value: tuple[str, float] = [
            ("poa_w_m2", 5000.0), ("module_temp_c", 300.0), ("ambient_temp_c", -80.0), ("seq", -1)
        ][variant]
        msg[bad_value[0]] = bad_value[1]
        return key, _dump(msg)
    if kind == "implausible":
        if variant % 2 == 0:
            msg["dc_power_kw"], msg["ac_power_kw"] = 50.0, 120.0
        else:
            msg["ambient_temp_c"], msg["module_temp_c"] = 40.0, 5.0
        return key, _dump(msg)
    if kind == "future_timestamp":
        ahead = now + timedelta(days=1, minutes=i)
        msg["ts"], msg["seq"] = _ts(ahead), int(ahead.timestamp() // 60)
        return key, _dump(msg)
    if kind == "key_mismatch":
        return f"other-device-{i:04d}".encode(), _dump(msg)
    if kind == "unknown_device":
        dev = f"ghost-inv{rng.randrange(10_000):04d}"
        msg["device_id"] = dev
        return dev.encode(), _dump(msg)
    raise ValueError(f"not a rejectable kind: {kind!r}")


def make_bad_messages(
    kind: str,
    n: int,
    seed: int = 0,
    *,
    devices: Sequence[tuple[str, str]] = DEFAULT_DEVICES,
    now: datetime | None = None,
) -> list[BadMessage]:
    """Exactly ``n`` messages of ``kind`` (see the module table), deterministic for ``seed`` and ``now``.

    ``devices`` are registered (device_id, site_id) pairs: the valid parts of each message use
    them, so only the intended defect triggers a rejection. ``now`` (UTC, default: the current
    minute) anchors timestamps: rejects use the previous hour; ``duplicate`` sends ``n/2``
    readings twice (rounded up: an odd ``n`` ends with a single copy); ``out_of_order`` sends
    one device's readings newest first; ``late`` sends readings 6–30 hours old.
    """
    if kind not in BAD_KINDS:
        raise ValueError(f"unknown bad-traffic kind {kind!r}; expected one of {', '.join(BAD_KINDS)}")
    if n < 0:
        raise ValueError("n must be >= 0")
    if not devices:
        raise ValueError("devices must not be empty")
    rng = random.Random(f"{seed}:{kind}")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    out: list[BadMessage] = []
    expected = EXPECTED_REASON[kind]
    if kind in REJECT_KINDS:
        for i in range(n):
            device_id, site_id = devices[i % len(devices)]
            base = valid_reading(device_id, site_id, now - timedelta(minutes=60 + i), rng)
            key, value = _reject(kind, i, rng, base, now)
            out.append((key, value, expected))
        return out
    device_id, site_id = devices[rng.randrange(len(devices))]
    if kind == "duplicate":
        originals = [valid_reading(device_id, site_id, now - timedelta(minutes=120 + i), rng) for i in range((n + 1) // 2)]
        for i in range(n):
            out.append((device_id.encode(), _dump(originals[i // 2]), None))
    elif kind == "out_of_order":
        for i in range(n):
            reading = valid_reading(device_id, site_id, now - timedelta(minutes=180 + i), rng)
            out.append((device_id.encode(), _dump(reading), None))
    else:  # late
        for _ in range(n):
            delay = timedelta(hours=rng.uniform(6.0, 30.0))
            ts = (now - delay).replace(second=0, microsecond=0)
            out.append((device_id.encode(), _dump(valid_reading(device_id, site_id, ts, rng)), None))
    return out


@dataclass
class _Held:
    release_after: int
    key: bytes
    value: bytes
    ts_ns: int


@dataclass
class BadTrafficInjector:
    """Mixes bad traffic into a stream of good messages at ``rate`` per good message.

    Call :meth:`on_good` for every good message; it returns what to send now, in order (the
    good message itself unless it is held back, plus any bad/duplicate/released messages).
    :meth:`drain` returns everything still held (call it before the final flush).
    ``counts`` tallies what was injected, by kind.
    """

    rate: float
    seed: int = 0
    devices: Sequence[tuple[str, str]] = DEFAULT_DEVICES
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    counts: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _held: list[_Held] = field(default_factory=list, init=False)
    _good_seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"bad message rate must be within [0, 1], got {self.rate}")
        self._rng = random.Random(f"injector:{self.seed}")

    def on_good(self, key: bytes, value: bytes, ts_ns: int = 0) -> list[tuple[bytes, bytes]]:
        """What to send for one good message (see the class docstring); ``ts_ns`` is its sensor
        time (ns since the epoch), remembered for held-back messages (:attr:`oldest_held_ts_ns`)."""
        self._good_seen += 1
        out: list[tuple[bytes, bytes]] = []
        hold = False
        if self.rate > 0 and self._rng.random() < self.rate:
            kind = self._rng.choice(BAD_KINDS)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if kind == "duplicate":
                out.extend([(key, value), (key, value)])
                hold = True  # already sent, twice
            elif kind == "out_of_order":
                self._held.append(_Held(self._good_seen + self._rng.randint(2, 20), key, value, ts_ns))
                hold = True
            elif kind == "late":
                self._held.append(_Held(self._good_seen + self._rng.randint(200, 2000), key, value, ts_ns))
                hold = True
            else:
                k, v, _ = make_bad_messages(
                    kind, 1, seed=self._rng.randrange(1 << 30), devices=self.devices, now=self.now()
                )[0]
                out.append((k, v))
        if not hold:
            out.append((key, value))
        due = [h for h in self._held if h.release_after <= self._good_seen]
        if due:
            self._held = [h for h in self._held if h.release_after > self._good_seen]
            out.extend((h.key, h.value) for h in due)
        return out

    def drain(self) -> list[tuple[bytes, bytes]]:
        """Release every held-back message (shutdown / end of run): nothing good is lost."""
        held, self._held = self._held, []
        return [(h.key, h.value) for h in held]

    @property
    def oldest_held_ts_ns(self) -> int | None:
        """Sensor time of the oldest message still held back (None when nothing is held)."""
        return min((h.ts_ns for h in self._held), default=None)

    @property
    def held(self) -> int:
        """Number of good messages currently held back."""
        return len(self._held)
