"""Issue 11 #11 (API part): the dashboard cannot be framed or sniffed, the ``Link`` header never
echoes a spoofed ``Host``, and the local stack listens on 127.0.0.1 only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from api_seed import Seeded

from heliosgrid.settings import load_settings
from heliosgrid.stack import StackContext
from heliosgrid.stack.components import heliosgrid_specs

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css"])
def test_dashboard_has_csp_frame_and_sniff_protection(sec_api: str, path: str) -> None:
    resp = httpx.get(sec_api + path, timeout=10)
    assert resp.status_code == 200
    csp = resp.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_api_responses_are_not_sniffed(reader: httpx.Client) -> None:
    for path in ("/v1/sites", "/v1/health", "/v1/nope"):
        assert reader.get(path).headers["x-content-type-options"] == "nosniff"


def test_link_header_never_echoes_a_spoofed_host(reader: httpx.Client, sec_seeded: Seeded) -> None:
    """Before: ``Link: <http://evil.example/v1/readings?…>`` (cache poisoning / phishing links)."""
    resp = reader.get("/v1/readings", params={"limit": 5, "format": "csv"}, headers={"Host": "evil.example"})
    assert resp.status_code == 200 and resp.headers["X-Next-Cursor"]
    link = resp.headers["link"]
    assert "evil.example" not in link
    assert link.startswith("</v1/readings?") and link.endswith('>; rel="next"')
    target = link[1:link.index(">")]
    nxt = reader.get(target)  # the relative reference resolves against the URL the client used
    assert nxt.status_code == 200


def test_local_stack_listens_on_loopback_only(tmp_path: Path) -> None:
    """Every address a stack component is told to bind or advertise is 127.0.0.1 (a guard: this
    held before; the consumer's /metrics bind address is the consumer's own setting)."""
    ctx = StackContext(data_dir=tmp_path, cwd=tmp_path)
    for spec in heliosgrid_specs(load_settings()):
        argv = spec.resolve_argv(ctx) if spec.argv else []
        for flag in ("--host", "--listener-url", "--advertised-listener-url"):
            if flag in argv:
                value = argv[argv.index(flag) + 1]
                assert "127.0.0.1" in value, f"{spec.name}: {flag} {value}"
