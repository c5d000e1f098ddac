"""``/v1/health``: liveness and database reachability (no key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from heliosgrid import __version__
from heliosgrid.api import models
from heliosgrid.api.routers.common import PREFIX

PING_SQL = "SELECT 1"

router = APIRouter(prefix=PREFIX)


@router.get("/health", response_model=models.Health, tags=["meta"], summary="Liveness and database reachability (no key)")
def health(request: Request) -> JSONResponse:
    try:
        with request.app.state.pool.connection(timeout=3) as conn:
            conn.execute(PING_SQL)
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})
    except Exception:
        return JSONResponse({"status": "degraded", "database": "unavailable", "version": __version__}, status_code=503)
