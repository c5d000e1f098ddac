"""What every ``/v1`` router shares: dependencies, query-parameter types, OpenAPI error
documents, and the helpers that run a router's named query and render its rows.

All SQL is parameterised (psycopg placeholders; identifiers only from closed enums via
``psycopg.sql``). Time ranges are half-open ``[start, end)`` in UTC; naive timestamps are
taken as UTC. Units follow the column names (kW, kWh, W/m², kWh/m², °C, seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from psycopg import sql
from pydantic import AfterValidator

from heliosgrid.api import models
from heliosgrid.api.auth import Principal, get_conn, require
from heliosgrid.api.formats import (
    CSV_MEDIA,
    PARQUET_MEDIA,
    Format,
    as_utc,
    check_page_size,
    columns_of,
    jsonable,
    render,
    time_range,
)
from heliosgrid.api.problems import ApiProblem

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
PREFIX = "/v1"

_TABULAR = {
    "content": {CSV_MEDIA: {"schema": {"type": "string"}}, PARQUET_MEDIA: {"schema": {"type": "string", "format": "binary"}}}
}
_PROBLEM_CONTENT = {"application/problem+json": {"schema": models.Problem.model_json_schema()}}


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem+json error."""
    return {"description": description, "content": _PROBLEM_CONTENT}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: problem_doc("Missing or invalid API key"),
    403: problem_doc("The key lacks the required scope"),
    422: problem_doc("Invalid parameters (including page size and time range limits)"),
    429: problem_doc("Rate limit exceeded (see Retry-After)"),
    503: problem_doc("Database unavailable (see Retry-After)"),
}


def responses(model: type[Any], tabular: bool = True, not_found: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of an endpoint returning ``model`` (plus CSV/Parquet when ``tabular``)."""
    ok: dict[str, Any] = {"model": model}
    if tabular:
        ok.update(_TABULAR)
    out: dict[int | str, dict[str, Any]] = {200: ok, **_ERRORS}
    if not_found:
        out[404] = problem_doc("No such resource")
    return out


def _no_nul(text: str) -> str:
    """PostgreSQL text cannot hold NUL; refuse it as a parameter error instead of a database error."""
    if "\x00" in text:
        raise ValueError("must not contain NUL (\\x00) characters")
    return text


#: A datetime query parameter, normalised to UTC (naive = UTC); out-of-range times are a 422.
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
#: A free-text query parameter: any text except NUL characters.
Text = Annotated[str, AfterValidator(_no_nul)]

Conn = Annotated[psycopg.Connection, Depends(get_conn)]
Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("alerts:write"))]
FormatQ = Annotated[Format | None, Query(description="Response format; overrides the Accept header.")]
SiteQ = Annotated[str | None, Query(pattern=ID_PATTERN, description="Restrict to one site.")]
DeviceQ = Annotated[str | None, Query(pattern=ID_PATTERN, description="Restrict to one device.")]
StartQ = Annotated[UtcDateTime | None, Query(description="Inclusive start (ISO 8601; naive = UTC).")]
EndQ = Annotated[UtcDateTime | None, Query(description="Exclusive end (ISO 8601; naive = UTC). Default: now.")]
CursorQ = Annotated[str | None, Query(max_length=512, description="Opaque cursor from the previous page.")]
LimitQ = Annotated[
    int | None, Query(ge=1, description="Page size (default 1000, alerts 100; capped at HELIOS_API_MAX_PAGE_SIZE).")
]
SitePath = Annotated[str, PathParam(pattern=ID_PATTERN)]


def router_for(tag: str) -> APIRouter:
    """The ``/v1`` router of one resource; every endpoint on it carries the OpenAPI ``tag``."""
    return APIRouter(prefix=PREFIX, tags=[tag])


@dataclass(frozen=True)
class TimeRange:
    """The ``start`` / ``end`` query parameters of an endpoint over a time range (UTC, naive = UTC)."""

    start: StartQ = None
    end: EndQ = None


@dataclass(frozen=True)
class Paging:
    """The keyset-paging query parameters: page size and the opaque cursor of the previous page."""

    limit: LimitQ = None
    cursor: CursorQ = None


@dataclass(frozen=True)
class ReadContext:
    """An authenticated read request: the request (content negotiation, settings), its pooled
    connection and the requested response ``format`` (``None``: from the Accept header)."""

    request: Request
    conn: psycopg.Connection
    format: Format | None

    def window(self, span: TimeRange, default: timedelta) -> tuple[datetime, datetime]:
        """``[start, end)`` in UTC, checked against ``api_max_range_days``; ``default`` span back from ``end``."""
        return time_window(self.request, span.start, span.end, default)

    def page_size(self, paging: Paging, default: int = 1000) -> int:
        """The page size: ``default`` when not given, capped at ``api_max_page_size`` (422 beyond)."""
        return page_size(self.request, paging.limit, default)

    def rows(self, query: Any, params: Sequence[Any] | dict[str, Any] | None, filename: str) -> Response:
        """Every row of ``query`` (run with ``params``) in the negotiated format."""
        return all_rows(self.request, self.format, self.conn.execute(query, params), filename)

    def page(
        self, query: sql.Composed, params: Sequence[Any], limit: int, cursor_after: Callable[[dict[str, Any]], str], filename: str
    ) -> Response:
        """One keyset page of ``query`` (see :func:`keyset_page`)."""
        return keyset_page(self.request, self.format, self.conn, query, params, limit, cursor_after, filename)

    def table(self, cur: psycopg.Cursor[Any], rows: list[Any], envelope: dict[str, Any], filename: str) -> Response:
        """``rows`` of an executed query in the negotiated format, JSON wrapped in ``envelope``."""
        return render(self.request, self.format, columns_of(cur.description), rows, envelope=envelope, filename=filename)


async def _read_context(request: Request, conn: Conn, _: Reader, format: FormatQ = None) -> ReadContext:
    return ReadContext(request, conn, format)


async def _time_range(start: StartQ = None, end: EndQ = None) -> TimeRange:
    return TimeRange(start, end)


async def _paging(limit: LimitQ = None, cursor: CursorQ = None) -> Paging:
    return Paging(limit, cursor)


# ``async``: they do no I/O, so FastAPI runs them inline instead of in its threadpool.
# FastAPI lists an endpoint's own query parameters first, then those of its dependencies in
# declaration order: declare these keyword-only after the endpoint's own parameters, in the
# order Range, Page, Read, so that the documented parameter order stays ... start, end, limit,
# cursor, format.
Read = Annotated[ReadContext, Depends(_read_context)]
Range = Annotated[TimeRange, Depends(_time_range)]
Page = Annotated[Paging, Depends(_paging)]


def value_enum(name: str, values: Iterable[str]) -> type[StrEnum]:
    """A ``StrEnum`` named ``name`` whose members are ``values`` (member name = value), in order:
    the OpenAPI enum of a closed set of strings defined once in the domain layer."""
    return StrEnum(name, [(value, value) for value in values])  # type: ignore[return-value]


def settings_of(request: Request) -> Any:
    """The app's :class:`~heliosgrid.settings.Settings`."""
    return request.app.state.settings


def time_window(request: Request, start: datetime | None, end: datetime | None, default: timedelta) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC, checked against ``api_max_range_days``; ``default`` span back from ``end``."""
    return time_range(start, end, max_days=settings_of(request).api_max_range_days, default_span=default)


def page_size(request: Request, limit: int | None, default: int = 1000) -> int:
    """The page size: ``default`` when not given, capped at ``api_max_page_size`` (422 beyond)."""
    max_size: int = settings_of(request).api_max_page_size
    if limit is None:
        return min(default, max_size)
    return check_page_size(limit, max_size)


class Where:
    """A conjunction of SQL conditions and their parameters, built up filter by filter."""

    def __init__(self, condition: str | None = None, *params: Any) -> None:
        self.clauses: list[sql.Composable] = []
        self.params: list[Any] = []
        if condition is not None:
            self.add(condition, *params)

    def add(self, condition: str, *params: Any) -> None:
        """Add a literal condition with ``%s`` placeholders for ``params``."""
        self.clauses.append(sql.SQL(condition))  # literal SQL from the routers only
        self.params.extend(params)

    def eq(self, column: str, value: Any) -> None:
        """``column = value`` unless ``value`` is None; ``column`` may be qualified (``r.site_id``)."""
        if value is not None:
            self.clauses.append(sql.SQL("{} = %s").format(sql.Identifier(*column.split("."))))
            self.params.append(value)

    def sql(self) -> sql.Composable:
        return sql.SQL(" AND ").join(self.clauses) if self.clauses else sql.SQL("TRUE")


def all_rows(request: Request, fmt: Format | None, cur: psycopg.Cursor[Any], filename: str) -> Response:
    """Every row of an executed query in the negotiated format."""
    return render(request, fmt, columns_of(cur.description), cur.fetchall(), filename=filename)


def keyset_page(
    request: Request,
    fmt: Format | None,
    conn: psycopg.Connection,
    query: sql.Composed,
    params: Sequence[Any],
    limit: int,
    cursor_after: Callable[[dict[str, Any]], str],
    filename: str,
) -> Response:
    """One keyset page: runs ``query`` (whose last placeholder is its LIMIT) for ``limit + 1`` rows;
    when there are more than ``limit``, ``next_cursor`` is ``cursor_after(last row by column name)``."""
    cur = conn.execute(query, [*params, limit + 1])
    rows = cur.fetchall()
    cols = columns_of(cur.description)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_after(dict(zip([c.name for c in cols], rows[-1], strict=True)))
    return render(request, fmt, cols, rows, next_cursor=next_cursor, filename=filename)


def one_row(cur: psycopg.Cursor[Any], not_found: str) -> dict[str, Any]:
    """The single row of an executed query as a JSON-ready dict; 404 ``not_found`` when there is none."""
    row = cur.fetchone()
    if row is None:
        raise ApiProblem(404, not_found)
    names = [c.name for c in cur.description or []]
    return {n: jsonable(v) for n, v in zip(names, row, strict=True)}
