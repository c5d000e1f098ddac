"""Unit tests of the API's pure parts: cursors, limits, formats, negotiation, rate limiter, keys."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from heliosgrid.api.auth import ApiKeyError, TokenBucketLimiter, hash_key, validate_scopes
from heliosgrid.api.formats import (
    Column,
    Format,
    check_page_size,
    decode_cursor,
    encode_cursor,
    negotiate,
    time_range,
    to_csv,
    to_parquet,
)
from heliosgrid.api.problems import ApiProblem

aware = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC))


# Cursor keys come from database text, which cannot hold NUL.
db_text = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=64)


@given(ts=aware, key=st.one_of(db_text, st.integers(min_value=-(2**62), max_value=2**62)))
def test_cursor_round_trip(ts: datetime, key: str | int) -> None:
    assert decode_cursor(encode_cursor(ts, key)) == (ts, key)


@given(ts=aware, before=db_text, after=db_text)
def test_cursor_with_nul_in_its_key_is_a_422(ts: datetime, before: str, after: str) -> None:
    with pytest.raises(ApiProblem) as exc:
        decode_cursor(encode_cursor(ts, before + "\x00" + after))
    assert exc.value.status == 422


@given(garbage=st.text(max_size=200))
def test_garbage_cursor_is_a_422_never_a_crash(garbage: str) -> None:
    try:
        decode_cursor(garbage)
    except ApiProblem as exc:
        assert exc.status == 422 and "cursor" in exc.detail


def test_time_range_defaults_and_limits() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert time_range(None, None, max_days=10, default_span=timedelta(days=1), now=now) == (now - timedelta(days=1), now)
    naive = datetime(2026, 5, 1)
    lo, _ = time_range(naive, now, max_days=60, default_span=timedelta(days=1))
    assert lo == naive.replace(tzinfo=UTC)
    with pytest.raises(ApiProblem, match="exceeds the maximum of 10 days"):
        time_range(now - timedelta(days=11), now, max_days=10, default_span=timedelta(days=1))
    with pytest.raises(ApiProblem, match="must be after"):
        time_range(now, now, max_days=10, default_span=timedelta(days=1))
    with pytest.raises(ApiProblem, match="out of range"):
        time_range(None, datetime(1, 1, 1, tzinfo=UTC), max_days=10, default_span=timedelta(days=1))


def test_page_size_limit() -> None:
    assert check_page_size(10, 10) == 10
    with pytest.raises(ApiProblem, match="exceeds the maximum page size of 10"):
        check_page_size(11, 10)


def _request(accept: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"accept", accept.encode())], "query_string": b""})


@pytest.mark.parametrize(("accept", "explicit", "expected"), [
    ("text/csv", None, Format.csv),
    ("application/vnd.apache.parquet", None, Format.parquet),
    ("application/x-parquet;q=0.9", None, Format.parquet),
    ("text/html,*/*", None, Format.json),
    ("", None, Format.json),
    ("text/csv", Format.parquet, Format.parquet),
])
def test_negotiation(accept: str, explicit: Format | None, expected: Format) -> None:
    assert negotiate(_request(accept), explicit) is expected


def test_csv_and_parquet_encoders_keep_nulls_and_types() -> None:
    cols = [Column("ts", 1184), Column("kw", 701), Column("n", 20), Column("ok", 16), Column("tags", 1009), Column("ev", 3802)]
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [(ts, 1.5, 3, True, ["a"], {"x": 1}), (ts, None, None, None, None, None)]
    text = to_csv(cols, rows).decode()
    assert text.splitlines() == ["ts,kw,n,ok,tags,ev", '2026-01-01T00:00:00Z,1.5,3,True,"[""a""]","{""x"":1}"',
                                 "2026-01-01T00:00:00Z,,,,,"]
    table = pq.read_table(io.BytesIO(to_parquet(cols, rows)))
    assert table.schema.field("kw").type == pa.float64() and table.schema.field("tags").type == pa.list_(pa.string())
    assert table.column("kw").to_pylist() == [1.5, None] and table.column("ev").to_pylist() == ['{"x":1}', None]


def test_token_bucket_burst_refill_and_isolation() -> None:
    clock = [0.0]
    bucket = TokenBucketLimiter(6, clock=lambda: clock[0])  # 6 per minute = 1 token per 10 s
    assert [bucket.acquire("a") for _ in range(6)] == [0.0] * 6
    assert bucket.acquire("a") == pytest.approx(10.0)
    assert bucket.acquire("b") == 0.0
    clock[0] = 5.0
    assert bucket.acquire("a") == pytest.approx(5.0)
    clock[0] = 10.0
    assert bucket.acquire("a") == 0.0
    clock[0] = 10_000.0
    assert bucket.wait_s("a") == 0.0 and bucket.wait_s("a") == 0.0  # peeking takes nothing
    assert [bucket.acquire("a") for _ in range(7)].count(0.0) == 6  # never more than the burst
    assert bucket.wait_s("a") == pytest.approx(10.0)


def test_scopes_and_hashing() -> None:
    assert validate_scopes(["read", "read", "alerts:write"]) == ("read", "alerts:write")
    with pytest.raises(ApiKeyError, match="unknown scope 'write'"):
        validate_scopes(["write"])
    with pytest.raises(ApiKeyError, match="at least one scope"):
        validate_scopes([])
    assert len(hash_key("hg_x")) == 64 and hash_key("hg_x") != hash_key("hg_y")
