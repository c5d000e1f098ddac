"""FastAPI application factory for the HeliosGrid data-product API and dashboard.

``create_app()`` wires the ``/v1`` routers, the SSE stream, problem+json error handling,
the psycopg connection pool (opened and closed with the app's lifespan), the per-key rate
limiter and the static dashboard at ``/``. ``/v1/health``, ``/docs`` and ``/openapi.json``
need no key; everything else does (see :mod:`heliosgrid.api.auth`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool

from heliosgrid import __version__
from heliosgrid.api import routes, stream
from heliosgrid.api.auth import TokenBucketLimiter
from heliosgrid.api.problems import install_problem_handlers
from heliosgrid.api.routers import insights
from heliosgrid.settings import Settings, get_settings

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"

DESCRIPTION = """Solar-plant data products: readings, rollups, KPIs, forecasts (P10/P50/P90),
alerts, data quality and the data-product catalogue.

**Auth**: every endpoint except `/v1/health`, `/docs` and `/openapi.json` needs an API key
(`Authorization: Bearer <key>` or `X-API-Key: <key>`), created with
`heliosgrid apikey create --name NAME --scope read`. **Formats**: JSON by default; CSV or
Parquet with `?format=csv|parquet` or `Accept: text/csv` / `application/vnd.apache.parquet`.
**Errors**: `application/problem+json`. Units are in the field names (kW, kWh, W/m², °C, s)."""


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET client_min_messages = warning")
    conn.execute("SET timezone = 'UTC'")


def create_app(
    settings: Settings | None = None,
    database_url: str | None = None,
    *,
    pool_max_size: int = 10,
    pool_timeout_s: float = 10.0,
    stream_poll_interval_s: float = 1.0,
    failed_auth_per_min: int = 30,
    max_streams_per_key: int = 10,
) -> FastAPI:
    """Build the app. ``database_url`` defaults to :func:`resolve_database_url`; resolution
    (which may start the embedded database) happens when the app starts, not at import.
    ``pool_timeout_s`` is how long a request waits for a database connection before 503;
    ``failed_auth_per_min`` limits failed authentications per client address (then 429);
    ``max_streams_per_key`` caps concurrent SSE streams per key (then 429)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from heliosgrid.db.connection import resolve_database_url

        url = database_url or resolve_database_url(settings)
        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_max_size,
            kwargs={"autocommit": True, "connect_timeout": 10},
            configure=_configure,
            timeout=pool_timeout_s,
            open=False,
            name="heliosgrid-api",
        )
        pool.open(wait=False)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="HeliosGrid API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "meta", "description": "Health"},
            {"name": "catalogue", "description": "Sites, devices and the data-product catalogue"},
            {"name": "readings", "description": "Raw readings and rollups"},
            {"name": "kpis", "description": "Energy, performance ratio, availability, operator overview"},
            {"name": "forecasts", "description": "P10/P50/P90 forecasts and their accuracy"},
            {"name": "alerts", "description": "Alerts and their lifecycle"},
            {"name": "quality", "description": "Data-quality results and freshness"},
            {"name": "stream", "description": "Server-Sent Events"},
        ],
    )
    app.state.settings = settings
    app.state.limiter = TokenBucketLimiter(settings.api_rate_limit_per_min)
    app.state.auth_failures = TokenBucketLimiter(failed_auth_per_min)
    app.state.last_used = {}
    app.state.stream_poll_interval_s = stream_poll_interval_s
    app.state.max_streams_per_key = max_streams_per_key
    app.state.open_streams = {}
    app.state.streams_lock = threading.Lock()
    install_problem_handlers(app)
    app.include_router(routes.router)
    app.include_router(stream.router)
    app.include_router(insights.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    return app
