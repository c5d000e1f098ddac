"""``/v1/maintenance``: detector coverage — what the newest maintenance run could not evaluate, and why.

Rows come from migration 0120 (written by every maintenance run, :mod:`heliosgrid.coverage`).
A site whose newest run evaluated every detector has one row with null ``device_id``,
``detector`` and ``reason``; a site maintenance never ran on is absent.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from heliosgrid.api import models
from heliosgrid.api.routers.common import PREFIX, Conn, FormatQ, Reader, SiteQ, all_rows, responses
from heliosgrid.coverage import CURRENT_SQL


class NotEvaluated(BaseModel):
    site_id: str
    device_id: str | None = Field(description="Device whose detector could not run; null: everything evaluated.")
    detector: str | None = Field(description="Detector (fault type), e.g. 'soiling'.")
    reason: str | None = Field(description="Why it could not run (interval, missing sensor, warm-up, scatter).")
    window_start: datetime = Field(description="Data interval of the newest maintenance run of the site (start).")
    window_end: datetime
    run_at: datetime = Field(description="When that run wrote its result.")


class NotEvaluatedPage(models.Page):
    items: list[NotEvaluated]


router = APIRouter(prefix=PREFIX)


@router.get(
    "/maintenance/coverage",
    tags=["maintenance"],
    responses=responses(NotEvaluatedPage),
    summary="Detectors not evaluated per site and device, with the reason",
)
def coverage(request: Request, conn: Conn, _: Reader, site_id: SiteQ = None, format: FormatQ = None) -> Response:
    """The newest maintenance run of each site and every (device, detector) it could not evaluate."""
    return all_rows(request, format, conn.execute(CURRENT_SQL, {"site": site_id}), "maintenance_coverage")
