"""One reader of timestamp columns for every CSV the product takes (forecast and maintenance CLIs,
the producer's replay).

* Times with an offset (``Z``, ``UTC``, ``±hh:mm``) are placed by their own offset: a logger's local
  times that carry a daylight-saving offset (``…-08:00`` in winter, ``…-07:00`` in summer) are one
  series, not a "mix".
* Naive times are local time in the given IANA zone, in ISO 8601 or any other format pandas reads
  (``9/14/2018 2:15``); times that do not exist or repeat at a DST switch become NaT.
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


def _parse(text: pd.Series, aware: bool, column: str, coerce: bool) -> pd.Series:
    if coerce:
        return pd.to_datetime(text, utc=aware, format="mixed", errors="coerce")
    try:
        return pd.to_datetime(text, utc=aware, format="ISO8601")
    except (ValueError, TypeError):
        try:
            return pd.to_datetime(text, utc=aware, format="mixed")
        except (ValueError, TypeError) as exc:
            sample = text.dropna().head(1000)
            bad = next((v for v in sample if pd.isna(pd.to_datetime(v, errors="coerce", utc=True))), sample.iloc[0])
            raise TimestampError(f"column {column!r}: unparsable timestamp {bad!r} ({exc})") from None


def parse_timestamps(raw: pd.Series, tz: str, column: str, *, drop_unparsable: bool = False) -> pd.DatetimeIndex:
    """``raw`` as a UTC index (module doc). With ``drop_unparsable`` values that are no time become NaT
    instead of an error (the caller drops their rows)."""
    zone = _zone(tz)
    text = raw.astype(str).str.strip().where(raw.notna() & (raw.astype(str).str.strip() != ""))
    present = text.notna()
    if drop_unparsable:
        present &= pd.to_datetime(text, errors="coerce", utc=True, format="mixed").notna()
        text = text.where(present)
    has_offset = text.str.contains(OFFSET_AT_END, regex=True, na=False)
    aware = bool(has_offset[present].all()) if present.any() else False
    if present.any() and not aware and bool(has_offset[present].any()):
        raise TimestampError(f"column {column!r}: timestamps mix times with and without a UTC offset; "
                             "give every timestamp an offset, or none (local time in the site's zone)")
    try:
        idx = pd.DatetimeIndex(_parse(text, aware, column, drop_unparsable))
    except (ValueError, TypeError) as exc:
        raise TimestampError(f"column {column!r}: timestamps mix times with and without a UTC offset ({exc}); "
                             "give every timestamp an offset, or none (local time in the site's zone)") from None
    if idx.tz is None:
        try:
            idx = idx.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        except (ValueError, TypeError) as exc:
            raise TimestampError(f"column {column!r}: cannot localise timestamps to {tz}: {exc}") from None
    return idx.tz_convert("UTC")
