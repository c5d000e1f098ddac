"""RFC 9457 problem details (``application/problem+json``) for every API error.

Every error the API returns — bad parameters, missing or insufficient credentials, rate
limits, unknown resources, invalid state transitions, database outages — is a JSON object
with ``type``, ``title``, ``status`` and a human-readable ``detail``; validation errors add
``errors`` (one entry per bad field). Internal errors never leak a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiProblem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"query", "path", "header", "body"}:
        return f"{parts[0]} parameter '{'.'.join(parts[1:])}'" if len(parts) > 1 else parts[0]
    return ".".join(parts)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the exception handlers that turn every error into a problem document."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, instance=request.url.path, headers=exc.headers, extra=exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        return problem_response(exc.status_code, detail, instance=request.url.path, headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(err.get("loc", ())), "message": str(err.get("msg", "invalid value"))}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return problem_response(422, detail, instance=request.url.path, extra={"errors": errors})

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("database pool exhausted or unreachable: %s", exc)
        return problem_response(
            503, "the database is unavailable; retry later", instance=request.url.path, headers={"Retry-After": "5"}
        )

    @app.exception_handler(psycopg.errors.QueryCanceled)
    async def _timeout(request: Request, exc: psycopg.errors.QueryCanceled) -> JSONResponse:
        log.warning("query cancelled on %s: %s", request.url.path, exc)
        return problem_response(
            503, "the query took longer than the API's statement timeout (HELIOS_API_STATEMENT_TIMEOUT_MS); "
            "narrow the request or retry later", instance=request.url.path, headers={"Retry-After": "5"},
        )

    @app.exception_handler(psycopg.OperationalError)
    async def _db_down(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("database error: %s", exc)
        return problem_response(
            503, "the database is unavailable; retry later", instance=request.url.path, headers={"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal error; the server log has the details", instance=request.url.path)
