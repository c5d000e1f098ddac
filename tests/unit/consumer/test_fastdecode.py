"""The msgspec fast path never accepts what the contract rejects, and agrees exactly when both accept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from heliosgrid.contract import DEFAULT_TS_WINDOW, Rejection, encode_reading
from heliosgrid.contract.reading import ReadingV1
from heliosgrid.ingest.batch import decode_row, decode_row_canonical
from heliosgrid.ingest.fastdecode import decode_row_fast

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
BOUNDS = DEFAULT_TS_WINDOW.bounds(NOW)

BASE: dict[str, Any] = {
    "schema_version": 1, "device_id": "inv-1", "site_id": "site-1", "ts": "2026-03-01T11:00:00Z", "seq": 7,
    "ghi_w_m2": 500.0, "poa_w_m2": 600.0, "ambient_temp_c": 20.0, "module_temp_c": 35.0,
    "dc_power_kw": 50.0, "ac_power_kw": 48.0, "inverter_status": "ok",
}

_ts_text = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()),
    st.builds(
        lambda y, mo, d, h, mi, s, frac, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{off}",
        st.sampled_from([1, 2026, 9999, 0]), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
        st.integers(0, 61), st.integers(0, 61),
        st.sampled_from(["", ".5", ".123456", ".1234567", ".", ".12a"]),
        st.sampled_from(["Z", "z", "+00:00", "-00:00", "+01:00", "-05:30", "+23:59", "+24:00", "+99:99", "", "+0100",
                         " ", "+01:00:30"]),
    ),
    st.sampled_from(["2026-03-01 11:00:00Z", "2026-03-01T11:00Z", "2026-03-01T11:00:00+01", "１９７０-01-01T00:00:00Z",
                     "2026-03-01T12:04:59Z", "2026-03-01T12:05:00Z", "2026-03-01T12:05:00.000001Z",
                     "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-03-01T11:00:00Z\n"]),
    st.text(max_size=30),
)
_number = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**20, 10**20),
    st.sampled_from([-20, -20.0, -20.000001, -1, -1.0000001, -0.0, 0, 1500, 1500.0000001, 1800, 65, 110, 100_000,
                     100_000.00001, -50, -50.0001, 1e308, 5e-324, True, False, "1", None]),
)
_id = st.one_of(st.from_regex(r"[A-Za-z0-9_.-]{1,66}", fullmatch=True),
                st.sampled_from(["inv-1", "inv-1\n", "", "a" * 64, "a" * 65, "inv 1", "invé", "inv-1\u0000"]))
_field_value: dict[str, st.SearchStrategy[Any]] = {
    "schema_version": st.sampled_from([1, 1.0, True, "1", 2, 0, None, 10**30]),
    "device_id": _id,
    "site_id": _id,
    "ts": _ts_text | st.sampled_from([0, 1772362800, 1.5, None]),
    "seq": st.one_of(st.integers(-5, 2**70), st.sampled_from([1.0, 7.5, True, "7", None, -0])),
    "inverter_status": st.sampled_from(["ok", "standby", "fault", "off", "OK", "", None, 1, True]),
}
for _name in ("ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c", "dc_power_kw", "ac_power_kw"):
    _field_value[_name] = _number


@st.composite
def _payloads(draw: st.DrawFn) -> bytes:
    obj = dict(BASE)
    for name in draw(st.lists(st.sampled_from(sorted(_field_value)), max_size=5, unique=True)):
        if draw(st.booleans()) and draw(st.booleans()):
            obj.pop(name)
        else:
            obj[name] = draw(_field_value[name])
    if draw(st.integers(0, 3)) == 0:  # near the plausibility limits (ac ≤ dc·1.02 + 0.5, module ≥ ambient − 25)
        dc = draw(st.sampled_from([-0.5, 0.0, 0.1, 10.0, 50.0, 1000.0]))
        obj["dc_power_kw"] = dc
        obj["ac_power_kw"] = max(dc, 0) * draw(st.sampled_from([1.0, 1.02, 1.025, 1.03])) + draw(
            st.sampled_from([0.0, 0.49, 0.5, 0.51, 0.6]))
        obj["ambient_temp_c"] = 20.0
        obj["module_temp_c"] = 20.0 - draw(st.sampled_from([0.0, 24.9, 25.0, 25.1, 30.0]))
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.text(max_size=6))] = draw(st.none() | st.integers() | st.text(max_size=4) | st.lists(st.integers()))
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()), allow_nan=False)
    variant = draw(st.integers(0, 12))
    if variant == 0:  # duplicate key: json.loads keeps the last one
        name = draw(st.sampled_from(sorted(BASE)))
        text = text[:-1] + f', {json.dumps(name)}: {json.dumps(draw(_field_value[name]), allow_nan=False)}}}'
    elif variant == 1:
        prefix = draw(st.sampled_from([" ", "\n", "\t", "\ufeff", "x", "]"]))
        text = prefix + text + draw(st.sampled_from(["", " ", "\n", ",", "}"]))
    elif variant == 2:  # raw byte damage
        data = bytearray(text.encode())
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
        return bytes(data)
    elif variant == 3:
        text = text.replace('"inv-1"', '"inv\\u002d1"')  # escapes decode to the same id
    elif variant == 4:
        text = text.replace("500.0", draw(st.sampled_from(["5e2", "500", "5E+2", "0500", "500.", "NaN", "Infinity", "-0"])))
    return text.encode("utf-8", "surrogatepass")


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Equal values, equal types (float vs int matters for COPY), equal timezone."""
    return a == b and [type(x) for x in a] == [type(x) for x in b] and a[1].tzinfo == b[1].tzinfo == UTC


@settings(max_examples=3000, deadline=None)
@given(_payloads(), st.sampled_from([None, b"inv-1", b"inv-2", b"inv\xff"]),
       st.sampled_from([NOW, NOW - timedelta(days=3650), datetime(2100, 1, 1, tzinfo=UTC)]))
@example(b'{"schema_version":1,"device_id":"inv-1","site_id":"s","ts":"2026-03-01T11:00:00Z","seq":7,"dc_power_kw":-0.5,'
         b'"ac_power_kw":0.6}', None, NOW)
@example(b'{"schema_version":1,"device_id":"inv-1\\n","site_id":"s","ts":"2026-03-01T11:00:00Z","seq":7}', None, NOW)
def test_fast_path_is_a_subset_of_the_contract_with_identical_values(raw: bytes, key: bytes | None, now: datetime) -> None:
    fast = decode_row_fast(raw, key, DEFAULT_TS_WINDOW.bounds(now))
    canonical = decode_row_canonical(raw, key, now)
    if fast is not None:
        assert not isinstance(canonical, Rejection), (raw, canonical)
        assert _same(fast, canonical), (fast, canonical)
    combined = decode_row(raw, key, now)
    assert combined == canonical
    if not isinstance(combined, Rejection):
        assert not isinstance(canonical, Rejection) and _same(combined, canonical)


_valid_readings = st.builds(
    ReadingV1,
    schema_version=st.just(1),
    device_id=st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
    site_id=st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
    ts=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 3, 1), timezones=st.just(UTC)),
    seq=st.integers(0, 2**62),
    ghi_w_m2=st.none() | st.floats(0, 1500),
    poa_w_m2=st.none() | st.floats(0, 1800),
    ambient_temp_c=st.just(20.0),
    module_temp_c=st.none() | st.floats(0, 110),
    dc_power_kw=st.none() | st.floats(0, 1000),
    ac_power_kw=st.none() | st.floats(0, 0.5),  # ≤ dc·1.02 + 0.5 whatever dc is: always plausible
    inverter_status=st.sampled_from(["ok", "standby", "fault", "off", None]),
)


@settings(max_examples=300, deadline=None)
@given(_valid_readings)
def test_fast_path_takes_every_wire_encoded_valid_reading(reading: ReadingV1) -> None:
    raw = encode_reading(reading)
    fast = decode_row_fast(raw, reading.device_id.encode(), BOUNDS)
    canonical = decode_row_canonical(raw, reading.device_id.encode(), NOW)
    assert fast is not None, raw
    assert not isinstance(canonical, Rejection)
    assert _same(fast, canonical)


def test_timestamps_the_contract_cannot_shift_to_utc_are_rejected_not_raised() -> None:
    raw = json.dumps({**BASE, "ts": "0001-01-01T00:00:00+01:00"}).encode()
    result = decode_row(raw, None, NOW)
    assert isinstance(result, Rejection) and result.reason_code == "out_of_range"


def test_fast_path_mirrors_the_contract_fields_bounds_and_literals() -> None:
    """If contract v1 gains a field or changes a bound, the fast path must be changed with it."""
    import typing

    import annotated_types
    import msgspec

    from heliosgrid.contract import INVERTER_STATUSES
    from heliosgrid.ingest.fastdecode import _ID_PATTERN, _ReadingV1Wire

    struct: Any = msgspec.inspect.type_info(_ReadingV1Wire)
    fields: dict[str, Any] = {f.name: f.type for f in struct.fields}
    assert set(fields) == set(ReadingV1.model_fields)
    for name, info in ReadingV1.model_fields.items():
        ge = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
        le = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
        if ge is None and le is None:
            continue
        t: Any = fields[name]
        num: Any = t.types[0] if isinstance(t, msgspec.inspect.UnionType) else t
        assert (num.ge, num.le) == (ge, le), name
    patterns = {getattr(m, "pattern", None) for n in ("device_id", "site_id") for m in
                ReadingV1.model_fields[n].metadata}
    assert patterns == {"^" + _ID_PATTERN.pattern.removesuffix("\\Z") + "$"}
    status: Any = fields["inverter_status"]
    assert isinstance(status, msgspec.inspect.UnionType)
    literal: Any = status.types[0]
    assert set(literal.values) == set(INVERTER_STATUSES)
    version: Any = fields["schema_version"]
    assert typing.get_args(ReadingV1.model_fields["schema_version"].annotation) == version.values


@settings(max_examples=400, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
       st.integers(1, 60), st.integers(0, 30))
def test_fast_path_and_contract_share_the_timestamp_window(ts: datetime, max_age_days: int, skew_min: int) -> None:
    from heliosgrid.contract import TimestampWindow

    window = TimestampWindow(max_age=timedelta(days=max_age_days), max_future_skew=timedelta(minutes=skew_min))
    raw = json.dumps({**BASE, "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}).encode()
    fast = decode_row_fast(raw, None, window.bounds(NOW))
    canonical = decode_row_canonical(raw, None, NOW, window)
    assert (fast is not None) == (not isinstance(canonical, Rejection)), (fast, canonical)
    assert decode_row(raw, None, NOW, window) == canonical
