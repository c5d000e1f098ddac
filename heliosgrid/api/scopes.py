"""API key scopes (no web-framework imports: the CLI reads them to build ``apikey create --scope``).

``read`` (every GET), ``alerts:write`` (acknowledge / resolve alerts), ``admin`` (implies every scope).
"""

from __future__ import annotations

SCOPES: tuple[str, ...] = ("read", "alerts:write", "admin")
