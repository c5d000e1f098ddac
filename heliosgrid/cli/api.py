"""``heliosgrid api [--host H] [--port P] [--write-openapi FILE]``: serve the API and dashboard."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # No settings are read here: building the parser must not fail on a bad environment.
    p = sub.add_parser("api", help="serve the /v1 API and the live dashboard (uvicorn)")
    p.add_argument("--host", default=None, help="bind address (default HELIOS_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="TCP port (default HELIOS_API_PORT, 8080)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument(
        "--write-openapi", type=Path, default=None, metavar="FILE",
        help="write the OpenAPI document to FILE (e.g. openapi.json) and exit",
    )
    p.set_defaults(func=cmd_api)


def openapi_document() -> dict[str, object]:
    """The app's OpenAPI document (no database needed)."""
    from heliosgrid.api import create_app

    return create_app(get_settings()).openapi()


def cmd_api(args: argparse.Namespace) -> int:
    if args.write_openapi is not None:
        args.write_openapi.write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {args.write_openapi}")
        return 0
    import uvicorn

    from heliosgrid.api import create_app

    settings = get_settings()
    host = args.host or settings.api_host
    port = args.port if args.port is not None else settings.api_port
    if not 1 <= port <= 65535:
        raise ValueError(f"--port must be 1-65535, got {port}")
    print(f"HeliosGrid API on http://{host}:{port}/ (docs: /docs)", flush=True)
    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level=args.log_level, proxy_headers=False)
    from heliosgrid.api import redaction

    redaction.install()  # after uvicorn configured its loggers: mask any key that still arrives in a URL
    uvicorn.Server(config).run()
    return 0
