"""Contract v1: the checked-in JSON Schema equals the code's; decode_reading never raises and
classifies bad input with the right reason code (property-based)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from heliosgrid.cli.contract import SCHEMA_FILE, schema_text
from heliosgrid.contract import REASON_CODES, ReadingV1, Rejection, decode_reading, encode_reading, json_schema

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_checked_in_schema_equals_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text()
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema()


def test_schema_documents_every_field_with_units() -> None:
    schema = json_schema()
    assert set(schema["required"]) == {"schema_version", "device_id", "site_id", "ts", "seq"}
    for name in ("ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c", "dc_power_kw", "ac_power_kw"):
        assert schema["properties"][name]["description"]


ids = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)


@st.composite
def valid_readings(draw: st.DrawFn) -> dict[str, Any]:
    ts = NOW - timedelta(minutes=draw(st.integers(0, 60 * 24 * 365)))
    dc = draw(st.one_of(st.none(), st.floats(0, 5000)))
    ac = None if dc is None else draw(st.floats(0, 1)) * dc
    ambient = draw(st.one_of(st.none(), st.floats(-50, 65)))
    low_c = -50.0 if ambient is None else max(-50.0, ambient - 25.0)  # `ambient or …` lost ambient == 0.0
    module = draw(st.one_of(st.none(), st.floats(low_c, 110)))
    return {
        "schema_version": 1,
        "device_id": draw(ids),
        "site_id": draw(ids),
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seq": int(ts.timestamp() // 60),
        "ghi_w_m2": draw(st.one_of(st.none(), st.floats(0, 1500))),
        "poa_w_m2": draw(st.one_of(st.none(), st.floats(0, 1800))),
        "ambient_temp_c": ambient,
        "module_temp_c": module,
        "dc_power_kw": dc,
        "ac_power_kw": ac,
        "inverter_status": draw(st.sampled_from([None, "ok", "standby", "fault", "off"])),
    }


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = decode_reading(raw, None, now=NOW)
    assert isinstance(result, ReadingV1 | Rejection)
    if isinstance(result, Rejection):
        assert result.reason_code in REASON_CODES


@given(st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=10),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=10))
@settings(max_examples=200, deadline=None)
def test_arbitrary_json_never_raises(obj: Any) -> None:
    result = decode_reading(json.dumps(obj).encode(), None, now=NOW)
    assert isinstance(result, Rejection)  # a random JSON value is never a valid reading
    assert result.reason_code in REASON_CODES


@given(valid_readings())
@settings(max_examples=200, deadline=None)
def test_valid_readings_roundtrip(msg: dict[str, Any]) -> None:
    raw = json.dumps(msg).encode()
    result = decode_reading(raw, msg["device_id"].encode(), now=NOW)
    assert isinstance(result, ReadingV1), result
    again = decode_reading(encode_reading(result), msg["device_id"].encode(), now=NOW)
    assert again == result


FIELD_LIMITS = {
    "ghi_w_m2": (-20, 1500), "poa_w_m2": (-20, 1800), "ambient_temp_c": (-50, 65),
    "module_temp_c": (-50, 110), "dc_power_kw": (-1, 100_000), "ac_power_kw": (-1, 100_000),
}


@given(valid_readings(), st.sampled_from(sorted(FIELD_LIMITS)), st.floats(1.0, 1e6), st.booleans())
@settings(max_examples=200, deadline=None)
def test_out_of_range_values_are_rejected(msg: dict[str, Any], name: str, excess: float, above: bool) -> None:
    low, high = FIELD_LIMITS[name]
    msg[name] = high + excess if above else low - excess
    result = decode_reading(json.dumps(msg).encode(), None, now=NOW)
    assert isinstance(result, Rejection) and result.reason_code == "out_of_range", result


@given(valid_readings(), st.sampled_from(["device_id", "site_id", "ts", "seq"]))
@settings(max_examples=100, deadline=None)
def test_missing_required_field(msg: dict[str, Any], name: str) -> None:
    del msg[name]
    result = decode_reading(json.dumps(msg).encode(), None, now=NOW)
    assert isinstance(result, Rejection) and result.reason_code == "missing_field"


@given(valid_readings(), st.sampled_from(["poa_w_m2", "seq", "ts", "inverter_status", "dc_power_kw"]),
       st.sampled_from(["n/a", "", "12abc", [1], {"a": 1}, True, False, "12.5"]))
@settings(max_examples=150, deadline=None)
def test_wrong_types(msg: dict[str, Any], name: str, value: Any) -> None:
    msg[name] = value
    result = decode_reading(json.dumps(msg).encode(), None, now=NOW)
    assert isinstance(result, Rejection) and result.reason_code == "wrong_type", result


@given(valid_readings(), st.integers(6, 10_000))
@settings(max_examples=50, deadline=None)
def test_future_timestamps(msg: dict[str, Any], minutes_ahead: int) -> None:
    msg["ts"] = (NOW + timedelta(minutes=minutes_ahead)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = decode_reading(json.dumps(msg).encode(), None, now=NOW)
    assert isinstance(result, Rejection) and result.reason_code == "future_timestamp"


def test_types_are_strict_as_the_json_schema_says() -> None:
    base = {"schema_version": 1, "device_id": "d", "site_id": "s", "ts": "2026-06-01T10:00:00Z", "seq": 1}
    for name, value, code in [
        ("ts", 1780000000, "wrong_type"),  # not Unix time
        ("seq", "7", "wrong_type"),
        ("ac_power_kw", "1.5", "wrong_type"),
        ("schema_version", True, "unsupported_schema_version"),
    ]:
        result = decode_reading(json.dumps({**base, name: value}).encode(), None, now=NOW)
        assert isinstance(result, Rejection) and result.reason_code == code, (name, value, result)
    ok = decode_reading(json.dumps({**base, "poa_w_m2": 5}).encode(), None, now=NOW)
    assert isinstance(ok, ReadingV1) and ok.poa_w_m2 == 5.0  # JSON integers are fine for numbers


def test_nan_and_infinity_are_not_accepted() -> None:
    for bad in ("NaN", "Infinity", "-Infinity"):
        raw = (b'{"schema_version":1,"device_id":"d","site_id":"s","ts":"2026-06-01T10:00:00Z","seq":1,'
               b'"poa_w_m2":' + bad.encode() + b"}")
        result = decode_reading(raw, None, now=NOW)
        assert isinstance(result, Rejection), bad
        assert not (isinstance(result, ReadingV1) and math.isnan(result.poa_w_m2 or 0.0))


def test_edge_inputs_are_rejected_with_a_reason_never_raised() -> None:
    """Inputs found by property tests of the consumer's fast path: each must be a Rejection."""
    from heliosgrid.contract import decode_reading
    from heliosgrid.contract.reading import SEQ_MAX, Rejection

    base = {"schema_version": 1, "device_id": "inv-1", "site_id": "s", "ts": "2026-03-01T11:00:00Z", "seq": 1}
    cases = {
        # converting to UTC overflows below year 1
        "out_of_range": json.dumps({**base, "ts": "0001-01-01T00:00:00+01:00"}).encode(),
        # recursion limit of the JSON parser
        "malformed_json": b"[" * 100_000 + b"]" * 100_000,
    }
    for code, raw in cases.items():
        result = decode_reading(raw)
        assert isinstance(result, Rejection) and result.reason_code == code, (code, result)
    too_big = decode_reading(json.dumps({**base, "seq": SEQ_MAX + 1}).encode())
    assert isinstance(too_big, Rejection) and too_big.reason_code == "out_of_range"
    assert not isinstance(decode_reading(json.dumps({**base, "seq": SEQ_MAX}).encode()), Rejection)


_NON_FINITE = st.sampled_from([b"NaN", b"Infinity", b"-Infinity"])


@given(valid_readings(), st.sampled_from(["poa_w_m2", "dc_power_kw", "ambient_temp_c", "seq", "unknown_extra",
                                          "nested"]), _NON_FINITE)
@settings(max_examples=150, deadline=None)
def test_a_non_finite_literal_anywhere_is_malformed_json_with_its_name(msg: dict[str, Any], name: str,
                                                                     literal: bytes) -> None:
    """Python's json reads NaN/Infinity; JSON has no such numbers: refused in any field, known or not."""
    msg[name] = "__HERE__" if name != "nested" else {"a": ["__HERE__"]}
    raw = json.dumps(msg).encode().replace(b'"__HERE__"', literal)
    result = decode_reading(raw, None, now=NOW)
    assert isinstance(result, Rejection) and result.reason_code == "malformed_json", result
    assert literal.decode().lstrip("-") in result.reason_detail
    assert "100000" not in result.reason_detail


def test_a_nan_measure_built_in_python_is_out_of_range_as_not_finite() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="finite"):
        ReadingV1(schema_version=1, device_id="d", site_id="s", ts=NOW, seq=1, poa_w_m2=float("nan"))


@given(valid_readings(), st.integers(-(60 * 24 * 365 * 30), 60 * 24), st.integers(1, 400), st.integers(0, 60))
@settings(max_examples=300, deadline=None)
def test_the_timestamp_window_decides_exactly_and_names_the_side(
    msg: dict[str, Any], offset_min: int, max_age_days: int, skew_min: int
) -> None:
    from heliosgrid.contract import TimestampWindow

    window = TimestampWindow(max_age=timedelta(days=max_age_days), max_future_skew=timedelta(minutes=skew_min))
    ts = NOW + timedelta(minutes=offset_min)
    msg["ts"] = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = decode_reading(json.dumps(msg).encode(), None, now=NOW, window=window)
    earliest = max(datetime(2000, 1, 1, tzinfo=UTC), NOW - timedelta(days=max_age_days))
    if ts > NOW + timedelta(minutes=skew_min):
        assert isinstance(result, Rejection) and result.reason_code == "future_timestamp"
    elif ts < earliest:
        assert isinstance(result, Rejection) and result.reason_code == "stale_timestamp"
        assert earliest.isoformat() in result.reason_detail
    else:
        assert isinstance(result, ReadingV1), result


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(1999, 12, 31), timezones=st.just(UTC)))
@settings(max_examples=100, deadline=None)
def test_nothing_before_2000_is_accepted_by_default(ts: datetime) -> None:
    base = {"schema_version": 1, "device_id": "d", "site_id": "s", "seq": 1, "ts": ts.isoformat()}
    result = decode_reading(json.dumps(base).encode(), None, now=NOW)
    assert isinstance(result, Rejection) and result.reason_code in {"stale_timestamp", "out_of_range"}


@given(msg=valid_readings(), schema_id=st.integers(0, 2**31 - 1))
def test_confluent_schema_registry_framing_is_named_in_the_reason(msg: dict[str, Any], schema_id: int) -> None:
    """Confluent's serializers put a magic byte 0 and a 4-byte schema id before the payload: the reading is
    refused (the contract is plain JSON) with a detail that tells the integrator what to change."""
    framed = b"\x00" + schema_id.to_bytes(4, "big") + json.dumps(msg).encode()
    result = decode_reading(framed, now=NOW)
    assert isinstance(result, Rejection) and result.reason_code == "malformed_json"
    assert f"schema id {schema_id}) before a JSON payload" in result.reason_detail
    assert "plain JSON" in result.reason_detail
