"""HeliosGrid data-product API (FastAPI, ``/v1``), SSE stream and web dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heliosgrid.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """``create_app`` is imported on first use, so that importing a light submodule
    (e.g. :mod:`heliosgrid.api.scopes` from the CLI) does not load FastAPI and friends."""
    if name == "create_app":
        from heliosgrid.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
