"""Response formats (JSON, CSV, Parquet), opaque keyset cursors and request-limit checks.

Tabular endpoints return rows from psycopg cursors. JSON is the default; CSV
(``text/csv``) and Parquet (``application/vnd.apache.parquet``) are chosen with
``?format=csv|parquet`` or the ``Accept`` header. For CSV and Parquet the pagination cursor
travels in the ``X-Next-Cursor`` header (and a ``Link: <…>; rel="next"`` header).
Timestamps are ISO 8601 UTC in JSON/CSV and ``timestamp[us, tz=UTC]`` in Parquet.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from heliosgrid.api.problems import ApiProblem

CSV_MEDIA = "text/csv"
PARQUET_MEDIA = "application/vnd.apache.parquet"
_PARQUET_ALIASES = {PARQUET_MEDIA, "application/x-parquet", "application/parquet"}


BAD_CURSOR = "query parameter 'cursor': invalid cursor; use the next_cursor value returned by the previous page"


class Format(StrEnum):
    json = "json"
    csv = "csv"
    parquet = "parquet"


# PostgreSQL type OID → Arrow type, for the column types the API serves.
_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    1043: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),
    1184: pa.timestamp("us", tz="UTC"),
    1114: pa.timestamp("us"),
    1082: pa.date32(),
    114: pa.string(),
    3802: pa.string(),
    1009: pa.list_(pa.string()),
}


class Column:
    """A result column: name and PostgreSQL type OID."""

    __slots__ = ("name", "type_oid")

    def __init__(self, name: str, type_oid: int) -> None:
        self.name = name
        self.type_oid = type_oid


def columns_of(description: Sequence[Any] | None) -> list[Column]:
    """Columns from a psycopg ``cursor.description``."""
    return [Column(d.name, d.type_code) for d in description or []]


def negotiate(request: Request, fmt: Format | None) -> Format:
    """Pick the format: explicit ``?format=`` wins, then the Accept header, else JSON."""
    if fmt is not None:
        return fmt
    accept = request.headers.get("accept", "")
    media = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    for m in media:
        if m == CSV_MEDIA:
            return Format.csv
        if m in _PARQUET_ALIASES:
            return Format.parquet
        if m in {"application/json", "*/*", "application/*"}:
            return Format.json
    return Format.json


def jsonable(value: Any) -> Any:
    """Convert a database value to a JSON-friendly one (datetimes → ISO 8601 UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:  # NaN → null
        return None
    return value


def rows_to_dicts(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    names = [c.name for c in columns]
    return [{n: jsonable(v) for n, v in zip(names, row, strict=True)} for row in rows]


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """``text`` with a leading ``'`` when it starts like a spreadsheet formula (``=1+1``,
    ``@SUM(…)``, ``+…``, ``-…``, tab, CR), so Excel/LibreOffice/Sheets show it as text."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_cell(value: Any) -> Any:
    """A CSV cell: '' for NULL, compact JSON for objects, ISO 8601 for times; text cells that
    could run as a spreadsheet formula are neutralised (numbers, also negative ones, are not text)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return neutralise_formula(json.dumps(value, separators=(",", ":")))
    if isinstance(value, str):
        return neutralise_formula(value)
    return jsonable(value)


def to_csv(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    # RFC 4180 CRLF rows: the writer then quotes any cell holding CR or LF (with "\n" alone it
    # leaves a bare CR unquoted, and readers split the row there).
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def to_parquet(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> bytes:
    fields = []
    arrays = []
    for i, col in enumerate(columns):
        arrow_type = _ARROW_TYPES.get(col.type_oid, pa.string())
        values = [row[i] for row in rows]
        if col.type_oid in (114, 3802):
            values = [None if v is None else json.dumps(v, separators=(",", ":")) for v in values]
        elif arrow_type == pa.string():
            values = [None if v is None else str(v) for v in values]
        elif col.type_oid == 1700:
            values = [None if v is None else float(v) for v in values]
        fields.append(pa.field(col.name, arrow_type))
        arrays.append(pa.array(values, type=arrow_type))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def render(
    request: Request,
    fmt: Format | None,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    next_cursor: str | None = None,
    envelope: dict[str, Any] | None = None,
    filename: str = "data",
) -> Response:
    """Answer with rows in the negotiated format; JSON wraps them as ``{"items": [...]}``."""
    chosen = negotiate(request, fmt)
    headers: dict[str, str] = {}
    if next_cursor is not None:
        headers["X-Next-Cursor"] = next_cursor
        # A relative reference (RFC 8288 §3.1): never echo the client-supplied Host header.
        nxt = request.url.include_query_params(cursor=next_cursor)
        headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'
    if chosen is Format.csv:
        headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return Response(to_csv(columns, rows), media_type=CSV_MEDIA, headers=headers)
    if chosen is Format.parquet:
        headers["Content-Disposition"] = f'attachment; filename="{filename}.parquet"'
        return Response(to_parquet(columns, rows), media_type=PARQUET_MEDIA, headers=headers)
    body: dict[str, Any] = dict(envelope or {})
    body["items"] = rows_to_dicts(columns, rows)
    body["next_cursor"] = next_cursor
    return JSONResponse(body, headers=headers)


# --- keyset cursors ------------------------------------------------------------------------------


def encode_cursor(ts: datetime, key: str | int) -> str:
    """Opaque cursor for the position after the row ``(ts, key)``."""
    raw = json.dumps([ts.astimezone(UTC).isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str | int]:
    """Inverse of :func:`encode_cursor`; raises :class:`ApiProblem` (422) on anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ts_text, key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        ts = datetime.fromisoformat(ts_text)
        if ts.tzinfo is None or not isinstance(key, str | int) or isinstance(key, bool):
            raise ValueError("bad cursor payload")
        if isinstance(key, str) and "\x00" in key:
            raise ValueError("NUL in cursor key")
        return ts, key
    except (ValueError, TypeError, UnicodeError, OverflowError) as exc:
        raise ApiProblem(422, BAD_CURSOR) from exc


# --- limits --------------------------------------------------------------------------------------


TIMESTAMP_OUT_OF_RANGE = "timestamp out of range: in UTC it must lie between 0001-01-01 and 9999-12-31"


def as_utc(ts: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC.

    Raises :class:`ValueError` (:data:`TIMESTAMP_OUT_OF_RANGE`) when the UTC time falls outside
    years 1-9999 (e.g. ``0001-01-01T00:00:00+14:00``)."""
    try:
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except OverflowError:
        raise ValueError(TIMESTAMP_OUT_OF_RANGE) from None


def time_range(
    start: datetime | None,
    end: datetime | None,
    *,
    max_days: int,
    default_span: timedelta,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """Resolve ``[start, end)`` (UTC): defaults end = now, start = end - default_span.

    Raises :class:`ApiProblem` 422 when end <= start or the span exceeds ``max_days``.
    """
    try:
        end_utc = as_utc(end) if end is not None else (now or datetime.now(UTC))
        start_utc = as_utc(start) if start is not None else end_utc - default_span
    except (OverflowError, ValueError):
        raise ApiProblem(422, f"query parameters 'start'/'end': {TIMESTAMP_OUT_OF_RANGE}") from None
    if end_utc <= start_utc:
        raise ApiProblem(422, f"query parameter 'end' ({end_utc.isoformat()}) must be after 'start' ({start_utc.isoformat()})")
    if end_utc - start_utc > timedelta(days=max_days):
        raise ApiProblem(
            422,
            f"time range of {(end_utc - start_utc) / timedelta(days=1):.1f} days exceeds the maximum of {max_days} days; "
            "narrow 'start'/'end' or page through smaller ranges",
        )
    return start_utc, end_utc


def check_page_size(limit: int, max_page_size: int) -> int:
    """422 when ``limit`` is above ``api_max_page_size``."""
    if limit > max_page_size:
        raise ApiProblem(422, f"query parameter 'limit': {limit} exceeds the maximum page size of {max_page_size}")
    return limit
