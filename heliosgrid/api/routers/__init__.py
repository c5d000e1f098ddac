"""The ``/v1`` routers, one per resource, each with its SQL beside it as named queries.

``ROUTERS`` is the order in which :func:`heliosgrid.api.app.create_app` mounts them (route
matching order). A new resource adds a module here and its router to ``ROUTERS``.
"""

from __future__ import annotations

from fastapi import APIRouter

from heliosgrid.api.routers import (
    alerts,
    catalogue,
    forecasts,
    insights,
    kpis,
    maintenance,
    meta,
    products,
    quality,
    readings,
    stream,
)

ROUTERS: tuple[APIRouter, ...] = (
    meta.router,
    catalogue.router,
    readings.router,
    kpis.router,
    forecasts.router,
    alerts.router,
    quality.router,
    products.router,
    insights.router,
    maintenance.router,
    stream.router,
)

__all__ = ["ROUTERS"]
