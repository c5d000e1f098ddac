"""One reader of timestamp columns for every CSV the product takes (forecast and maintenance CLIs,
the producer's replay).

* Times with an offset (``Z``, ``UTC``, ``±hh:mm``) are placed by their own offset: a logger's local
  times that carry a daylight-saving offset (``…-08:00`` in winter, ``…-07:00`` in summer) are one
  series, not a "mix".
* Naive times are local time in the given IANA zone, in ISO 8601 or any other format pandas reads
  (``9/14/2018 2:15``, ``01.06.2024 10:00``: day or month first decided from the column, :func:`day_first`);
  times that do not exist or repeat at a DST switch become NaT.
* Unix times (9–13 digits: seconds, or milliseconds from 12 digits on) are UTC.
* A column mixing times with and without an offset is refused: there is no right reading of it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

OFFSET_AT_END = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$"
"""A time of day followed by ``Z``/``UTC`` or a ±hh[:mm] offset at the end of the text."""


class TimestampError(ValueError):
    """A timestamp column that cannot be read; the message says why and where."""


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimestampError(f"unknown time zone {tz!r} (use an IANA name such as 'UTC' or 'America/Denver')") from None


def lmt_days(index: pd.DatetimeIndex, longitude_deg: float) -> pd.DatetimeIndex:
    """Each stamp's day in local mean solar time (UTC + 4 min per degree east, labelled as a UTC midnight): days
    change near solar midnight at any longitude, whatever zone the stamps were written in."""
    return (pd.DatetimeIndex(index) + pd.Timedelta(minutes=4.0 * longitude_deg)).floor("D")


def standard_zone(longitude_deg: float) -> str:
    """The whole-hour fixed zone nearest the sun at ``longitude_deg`` (° east): local standard time, e.g.
    ``Etc/GMT+7`` (UTC−7) at −105°, ``UTC`` at 0°."""
    hours = round(-longitude_deg / 15.0)
    return "UTC" if hours == 0 else f"Etc/GMT{hours:+d}"


def day_first(text: pd.Series) -> bool:
    """Whether numeric dates like ``01.06.2024`` or ``06/01/2024`` put the day first: decided by a first
    field above 12 (day first) or a second one above 12 (month first) anywhere in the column; when every
    date is ambiguous, by the convention of the separator (``.``: day first, as in Europe; ``/`` and ``-``:
    month first, as in the US)."""
    parts = text.dropna().str.extract(r"^\s*(\d{1,2})([./-])(\d{1,2})[./-]\d{2,4}")
    parts = parts.dropna()
    if parts.empty:
        return False
    first, second = parts[0].astype(int), parts[2].astype(int)
    if bool((first > 12).any()):
        return True
    if bool((second > 12).any()):
        return False
    return bool((parts[1] == ".").mean() > 0.5)


def _parse(text: pd.Series, aware: bool, column: str, coerce: bool) -> pd.Series:
    if coerce:
        return pd.to_datetime(text, utc=aware, format="mixed", dayfirst=day_first(text), errors="coerce")
    try:
        return pd.to_datetime(text, utc=aware, format="ISO8601")
    except (ValueError, TypeError):
        try:
            return pd.to_datetime(text, utc=aware, format="mixed", dayfirst=day_first(text))
        except (ValueError, TypeError) as exc:
            sample = text.dropna().head(1000)
            bad = next((v for v in sample if pd.isna(pd.to_datetime(v, errors="coerce", utc=True))), sample.iloc[0])
            raise TimestampError(f"column {column!r}: unparsable timestamp {bad!r} ({exc})") from None


def _epoch(text: pd.Series, column: str) -> pd.DatetimeIndex:
    """Unix time: seconds (≤ 11 digits) or milliseconds (13 digits) since 1970-01-01 UTC."""
    values = pd.to_numeric(text, errors="coerce")
    digits = text.dropna().str.split(".").str[0].str.len()
    unit = "ms" if int(digits.max()) >= 12 else "s"
    try:
        return pd.DatetimeIndex(pd.to_datetime(values, unit=unit, utc=True))
    except (ValueError, OverflowError) as exc:
        raise TimestampError(f"column {column!r}: Unix times out of range ({exc})") from None


def parse_timestamps(raw: pd.Series, tz: str, column: str, *, drop_unparsable: bool = False) -> pd.DatetimeIndex:
    """``raw`` as a UTC index (module doc). With ``drop_unparsable`` values that are no time become NaT
    instead of an error (the caller drops their rows)."""
    zone = _zone(tz)
    text = raw.astype(str).str.strip().where(raw.notna() & (raw.astype(str).str.strip() != ""))
    present = text.notna()
    if drop_unparsable:
        present &= pd.to_datetime(text, errors="coerce", utc=True, format="mixed").notna()
        text = text.where(present)
    if present.any() and bool(text[present].str.fullmatch(r"\d{9,13}(?:\.\d+)?").all()):
        return _epoch(text, column)
    has_offset = text.str.contains(OFFSET_AT_END, regex=True, na=False)
    aware = bool(has_offset[present].all()) if present.any() else False
    if present.any() and not aware and bool(has_offset[present].any()):
        raise TimestampError(f"column {column!r}: timestamps mix times with and without a UTC offset; "
                             "give every timestamp an offset, or none (local time in the site's zone)")
    parsed = _parse(text, aware, column, drop_unparsable)
    try:
        idx = pd.DatetimeIndex(parsed)
    except (ValueError, TypeError) as exc:
        raise TimestampError(f"column {column!r}: timestamps mix times with and without a UTC offset ({exc}); "
                             "give every timestamp an offset, or none (local time in the site's zone)") from None
    if idx.tz is None:
        try:
            idx = idx.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        except (ValueError, TypeError) as exc:
            raise TimestampError(f"column {column!r}: cannot localise timestamps to {tz}: {exc}") from None
    return idx.tz_convert("UTC")
