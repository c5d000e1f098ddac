"""Bad traffic: every kind triggers its reason code (or is valid), deterministic, nothing lost."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from heliosgrid.contract import REASON_CODES, ReadingV1, decode_reading
from heliosgrid.physics import demo_fleet
from producer.badtraffic import BAD_KINDS, REJECT_KINDS, VALID_KINDS, BadTrafficInjector, make_bad_messages

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
REGISTERED = {d.device_id for s in demo_fleet() for d in s.devices}


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_each_kind_gives_exactly_n_with_expected_reason(kind: str) -> None:
    messages = make_bad_messages(kind, 9, seed=4, now=NOW)
    assert len(messages) == 9
    for key, value, expected in messages:
        result = decode_reading(value, key, now=NOW)
        if kind == "unknown_device":
            # contract-valid; the consumer's device registry rejects it
            assert isinstance(result, ReadingV1) and result.device_id not in REGISTERED
            assert expected == "unknown_device"
        elif kind in VALID_KINDS:
            assert expected is None
            assert isinstance(result, ReadingV1) and result.device_id in REGISTERED
        else:
            assert not isinstance(result, ReadingV1), f"{kind}: {value!r} was accepted"
            assert result.reason_code == expected == kind
        assert expected is None or expected in REASON_CODES


def test_deterministic_for_seed_and_now() -> None:
    for kind in BAD_KINDS:
        assert make_bad_messages(kind, 5, seed=1, now=NOW) == make_bad_messages(kind, 5, seed=1, now=NOW)
    assert make_bad_messages("wrong_type", 5, seed=1, now=NOW) != make_bad_messages("wrong_type", 5, seed=2, now=NOW)


def test_valid_kinds_shapes() -> None:
    dups = make_bad_messages("duplicate", 6, seed=3, now=NOW)
    assert len(set(dups)) == 3 and all(c == 2 for c in Counter(dups).values())
    ooo = [decode_reading(v, k, now=NOW) for k, v, _ in make_bad_messages("out_of_order", 5, seed=3, now=NOW)]
    seqs = [r.seq for r in ooo if isinstance(r, ReadingV1)]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 5
    late = [decode_reading(v, k, now=NOW) for k, v, _ in make_bad_messages("late", 5, seed=3, now=NOW)]
    assert all(isinstance(r, ReadingV1) and (NOW - r.ts).total_seconds() >= 6 * 3600 - 60 for r in late)


def test_bad_input_to_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown bad-traffic kind"):
        make_bad_messages("bogus", 1)
    with pytest.raises(ValueError, match="n must be"):
        make_bad_messages("wrong_type", -1)
    with pytest.raises(ValueError, match="rate"):
        BadTrafficInjector(rate=1.5)


def _good(i: int) -> tuple[bytes, bytes]:
    return b"es-tabernas-inv01", b'{"good":%d}' % i


def test_injector_rate_zero_is_transparent() -> None:
    inj = BadTrafficInjector(rate=0.0, seed=1)
    out = [m for i in range(100) for m in inj.on_good(*_good(i))]
    assert out == [_good(i) for i in range(100)] and inj.drain() == [] and inj.counts == {}


def test_injector_never_loses_a_good_message_and_injects_every_kind() -> None:
    inj = BadTrafficInjector(rate=0.5, seed=7, now=lambda: NOW)
    n = 4000
    sent = [m for i in range(n) for m in inj.on_good(*_good(i), ts_ns=i)]
    assert inj.held > 0 and inj.oldest_held_ts_ns is not None
    sent += inj.drain()
    goods = Counter(m for m in sent if m[1].startswith(b'{"good"'))
    assert set(goods) == {_good(i) for i in range(n)}  # every good message delivered
    assert sum(goods.values()) == n + inj.counts["duplicate"]  # duplicates are exact re-sends
    assert set(inj.counts) == set(BAD_KINDS)
    rejects = [m for m in sent if not m[1].startswith(b'{"good"')]
    assert len(rejects) == sum(inj.counts[k] for k in REJECT_KINDS)
    order = [int(m[1][8:-1]) for m in sent if m[1].startswith(b'{"good"')]
    assert order != sorted(order)  # out-of-order and late releases happened
