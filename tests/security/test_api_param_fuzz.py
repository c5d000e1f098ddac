"""Issue 11 #9: no 500s from query parameters: NUL bytes and out-of-range times are a 422
problem+json naming the parameter. Fuzzed with hypothesis against the live app."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

# (path, fixed params, fuzzed param)
TEXT_PARAMS = [("/v1/forecasts", {"site_id": "alpha"}, "model_version"), ("/v1/quality/results", {}, "check_name")]
TIME_PARAMS = [("/v1/alerts", {}, "since"), ("/v1/overview", {}, "as_of"), ("/v1/forecasts", {"site_id": "alpha"}, "issued_at"),
               ("/v1/readings", {}, "start"), ("/v1/kpis", {}, "end"), ("/v1/forecasts", {"site_id": "alpha"}, "start")]
CURSOR_PATHS = ["/v1/readings", "/v1/alerts", "/v1/quality/results", "/v1/rollups/1h"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

any_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
extreme_times = st.builds(
    lambda d, tz: d.replace(tzinfo=tz).isoformat(),
    st.sampled_from([datetime(1, 1, 1), datetime(1, 1, 1, 23, 59), datetime(9999, 12, 31, 23, 59, 59), datetime(9999, 12, 31)]),
    offsets,
)
time_text = st.one_of(st.datetimes(timezones=st.one_of(st.none(), offsets)).map(datetime.isoformat), extreme_times, any_text)


def _cursor(ts: str, key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([ts, key]).encode()).decode().rstrip("=")


cursors = st.one_of(any_text, st.builds(_cursor, time_text, st.one_of(any_text, st.integers(), st.lists(any_text, max_size=4).map(
    json.dumps))))


def _no_crash(resp: httpx.Response) -> None:
    assert resp.status_code < 500, f"{resp.request.url} -> {resp.status_code} {resp.text[:300]}"
    if resp.status_code == 422:
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["detail"]


@pytest.mark.parametrize(("path", "fixed", "name"), TEXT_PARAMS)
def test_nul_in_a_text_parameter_is_a_precise_422(reader: httpx.Client, path: str, fixed: dict[str, str], name: str) -> None:
    """Before: 500 (PostgreSQL refuses NUL in text)."""
    resp = reader.get(path, params={**fixed, name: "a\x00b"})
    assert resp.status_code == 422, resp.text
    assert f"query parameter '{name}'" in resp.json()["detail"] and "NUL" in resp.json()["detail"]


@pytest.mark.parametrize(("path", "fixed", "name"), TIME_PARAMS)
def test_a_time_that_overflows_in_utc_is_a_precise_422(reader: httpx.Client, path: str, fixed: dict[str, str], name: str) -> None:
    """Before: 500 (``0001-01-01T00:00:00+14:00`` is before year 1 in UTC)."""
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        resp = reader.get(path, params={**fixed, name: value})
        assert resp.status_code == 422, resp.text
        assert name in resp.json()["detail"] and "out of range" in resp.json()["detail"]


@pytest.mark.parametrize(("path", "fixed", "name"), TEXT_PARAMS)
@FUZZ
@given(value=any_text)
def test_fuzz_text_parameters(reader: httpx.Client, path: str, fixed: dict[str, str], name: str, value: str) -> None:
    _no_crash(reader.get(path, params={**fixed, name: value}))


@pytest.mark.parametrize(("path", "fixed", "name"), TIME_PARAMS)
@FUZZ
@given(value=time_text)
def test_fuzz_time_parameters(reader: httpx.Client, path: str, fixed: dict[str, str], name: str, value: str) -> None:
    _no_crash(reader.get(path, params={**fixed, name: value}))


@pytest.mark.parametrize("path", CURSOR_PATHS)
@FUZZ
@given(cursor=cursors)
def test_fuzz_cursors(reader: httpx.Client, path: str, cursor: str) -> None:
    _no_crash(reader.get(path, params={"cursor": cursor, "start": (datetime.now(UTC) - timedelta(days=1)).isoformat()}))
