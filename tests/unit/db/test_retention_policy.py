"""Duration parsing and policy validation for `heliosgrid retention set` (no database needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.db.retention import (
    MAX_DURATION,
    MIN_DROP_AFTER,
    PolicyError,
    format_duration,
    parse_duration,
    validate_policy,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("  7D ", timedelta(days=7)),
        ("none", None),
        ("NONE", None),
        ("never", None),
    ],
)
def test_parse_duration_examples(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected a whole number followed by h, d or w"),
        ("90", "expected a whole number followed by h, d or w"),
        ("d", "expected a whole number followed by h, d or w"),
        ("1.5d", "expected a whole number followed by h, d or w"),
        ("-3d", "expected a whole number followed by h, d or w"),
        ("3 days", "expected a whole number followed by h, d or w"),
        ("3m", "expected a whole number followed by h, d or w"),
        ("0d", "must be greater than zero"),
        ("6000w", "longer than 100 years"),
    ],
)
def test_parse_duration_rejects_with_precise_message(text: str, reason: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)
    assert reason in str(info.value)


@given(hours=st.integers(min_value=1, max_value=int(MAX_DURATION.total_seconds()) // 3600))
def test_format_then_parse_round_trips(hours: int) -> None:
    value = timedelta(hours=hours)
    text = format_duration(value)
    assert parse_duration(text) == value
    assert text.endswith("d") if hours % 24 == 0 else text.endswith("h")


@given(n=st.integers(min_value=1, max_value=5000), unit=st.sampled_from(["h", "d", "w"]))
def test_parse_is_n_times_unit(n: int, unit: str) -> None:
    hours = {"h": 1, "d": 24, "w": 168}[unit] * n
    assert parse_duration(f"{n}{unit}") == timedelta(hours=hours)


@given(st.text(max_size=12))
def test_parse_never_raises_anything_but_policy_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except PolicyError as exc:
        assert str(exc).startswith("invalid duration")
    else:
        assert result is None or timedelta(0) < result <= MAX_DURATION


def test_format_duration_of_none_and_odd_values() -> None:
    assert format_duration(None) == "none"
    assert format_duration(timedelta(minutes=30)) == "0:30:00"


def test_validate_accepts_defaults_on_both_backends() -> None:
    for backend in ("postgres", "timescaledb"):
        validate_policy(backend, "readings", timedelta(days=30), None)
        validate_policy(backend, "readings_15m", timedelta(days=365), None)
        validate_policy(backend, "readings_1d", None, None)
    validate_policy("timescaledb", "readings", timedelta(days=30), timedelta(days=7))


def test_validate_refuses_compression_on_postgres() -> None:
    with pytest.raises(PolicyError, match="compression needs TimescaleDB"):
        validate_policy("postgres", "readings", timedelta(days=30), timedelta(days=7))


def test_validate_refuses_compression_of_rollups() -> None:
    with pytest.raises(PolicyError, match="compression is configured only for readings"):
        validate_policy("timescaledb", "readings_15m", None, timedelta(days=7))


def test_validate_refuses_compress_after_not_before_drop() -> None:
    with pytest.raises(PolicyError, match=r"compress-after \(30d\) must be shorter than drop-after \(30d\)"):
        validate_policy("timescaledb", "readings", timedelta(days=30), timedelta(days=30))


@pytest.mark.parametrize("relation", sorted(MIN_DROP_AFTER))
def test_validate_refuses_drop_inside_rollup_refresh_window(relation: str) -> None:
    minimum = MIN_DROP_AFTER[relation]
    with pytest.raises(PolicyError, match="too short"):
        validate_policy("postgres", relation, minimum, None)
    validate_policy("postgres", relation, minimum + timedelta(hours=1), None)


def test_validate_refuses_unknown_relation() -> None:
    with pytest.raises(PolicyError, match="unknown relation 'sites'"):
        validate_policy("postgres", "sites", timedelta(days=1), None)
