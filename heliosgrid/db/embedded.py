"""Embedded PostgreSQL for machines without a database server (``pgserver`` wheel)."""

from __future__ import annotations

from pathlib import Path


def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) an embedded PostgreSQL in ``pgdata`` and return its server URL.

    The server keeps running after this process exits (``cleanup_mode=None``) so that every
    component of the local stack shares it; ``heliosgrid stack down`` stops it.
    """
    import pgserver  # imported lazily: only needed when no server is reachable

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata.resolve()), cleanup_mode=None)
    uri: str = server.get_uri()
    return uri
