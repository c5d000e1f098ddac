"""The one timestamp reader (heliosgrid.timestamps): offsets honoured one by one, naive times local."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heliosgrid.timestamps import TimestampError, parse_timestamps

ZONES = ("America/Los_Angeles", "Europe/Madrid", "Australia/Sydney", "UTC", "Asia/Kolkata")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1)), min_size=1, max_size=30),
       st.sampled_from(ZONES))
def test_local_times_with_their_own_offsets_give_back_the_instants(naive_utc: list[datetime], zone: str) -> None:
    """Any instants written as local time with the offset in force then (DST or not) read back exactly."""
    instants = pd.DatetimeIndex(naive_utc).tz_localize("UTC").floor("s")
    text = pd.Series([t.tz_convert(zone).isoformat() for t in instants])
    assert (parse_timestamps(text, "UTC", "t") == instants).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1)), min_size=1, max_size=20),
       st.sampled_from(ZONES), st.sampled_from(["%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M:%S"]))
def test_naive_times_in_any_format_are_local_time_in_the_zone(local: list[datetime], zone: str, fmt: str) -> None:
    local = [t.replace(second=0, microsecond=0) for t in local]
    got = parse_timestamps(pd.Series([t.strftime(fmt) for t in local]), zone, "t")
    want = pd.DatetimeIndex(local).tz_localize(zone, ambiguous="NaT", nonexistent="NaT").tz_convert("UTC")
    assert got.equals(want)


def test_mixing_offsets_and_naive_times_or_an_unknown_zone_is_refused() -> None:
    with pytest.raises(TimestampError, match="mix times with and without a UTC offset"):
        parse_timestamps(pd.Series(["2024-06-01T10:00Z", "2024-06-01 11:00"]), "UTC", "t")
    with pytest.raises(TimestampError, match="unknown time zone 'Mars/Olympus'"):
        parse_timestamps(pd.Series(["2024-06-01 10:00"]), "Mars/Olympus", "t")
    with pytest.raises(TimestampError, match="unparsable timestamp 'soon'"):
        parse_timestamps(pd.Series(["2024-06-01 10:00", "soon"]), "UTC", "t")


def test_unparsable_values_can_be_dropped_instead() -> None:
    idx = parse_timestamps(pd.Series(["2024-06-01T10:00-07:00", "soon", None, "2024-12-01T10:00-08:00"]), "UTC", "t",
                           drop_unparsable=True)
    assert idx[0] == pd.Timestamp("2024-06-01 17:00Z") and idx[1] is pd.NaT and idx[2] is pd.NaT
    assert idx[3] - idx[0] == timedelta(days=183, hours=1)


def test_unix_times_in_seconds_or_milliseconds_are_utc() -> None:
    want = [pd.Timestamp("2018-11-07 23:15Z"), pd.Timestamp("2018-11-07 23:20Z")]
    assert parse_timestamps(pd.Series([1541632500, 1541632800]), "Europe/Madrid", "t").tolist() == want
    assert parse_timestamps(pd.Series(["1541632500000", "1541632800000"]), "UTC", "t").tolist() == want
    assert parse_timestamps(pd.Series(["20240601", "20240602"]), "UTC", "t")[0] == pd.Timestamp("2024-06-01", tz="UTC")  # a date
