"""HeliosGrid data-product API (FastAPI, ``/v1``), SSE stream and web dashboard."""

from heliosgrid.api.app import create_app

__all__ = ["create_app"]
