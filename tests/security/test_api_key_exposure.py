"""Issue 11 #6: no long-lived key in a URL, keys redacted from logs, private log files.

The stack tests run the real supervisor with the real ``api`` component (``heliosgrid api``
under uvicorn, its after-start step creating the demo key) against the seeded database.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from api_seed import Seeded

from heliosgrid.settings import load_settings
from heliosgrid.stack import ComponentSpec, StackContext, Supervisor
from heliosgrid.stack.components import api_spec
from tests.helpers import free_port

pytestmark = pytest.mark.integration


def _problem(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return str(resp.json()["detail"])


def test_a_long_lived_key_in_the_url_is_refused(sec_api: str, sec_keys: dict[str, str]) -> None:
    """Before: the stream accepted ``?key=`` (and the dashboard used it), so keys filled access logs."""
    for path in ("/v1/stream", "/v1/sites"):
        detail = _problem(httpx.get(sec_api + path, params={"key": sec_keys["read"]}, timeout=10), 401)
        assert "not accepted in the URL" in detail


def test_stream_token_opens_only_the_stream_and_expires(sec_api: str, sec_keys: dict[str, str]) -> None:
    from heliosgrid.api import stream_tokens

    issued = httpx.post(sec_api + "/v1/stream/token", headers={"X-API-Key": sec_keys["read"]}, timeout=10)
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]
    assert sec_keys["read"].split("_", 2)[2] not in token  # the key's secret (may itself hold "_") is not in the token
    assert 0 < issued.json()["expires_in_s"] <= 3600
    # it is not a key: no other endpoint takes it
    _problem(httpx.get(sec_api + "/v1/sites", headers={"Authorization": f"Bearer {token}"}, timeout=10), 401)
    with httpx.stream("GET", sec_api + "/v1/stream", params={"token": token}, timeout=10) as resp:
        assert resp.status_code == 200
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert "invalid stream token" in _problem(httpx.get(sec_api + "/v1/stream", params={"token": forged}, timeout=10), 401)
    key_id = sec_keys["read"].split("_")[1]
    expired = stream_tokens.issue(sec_keys["read"], key_id, ttl_s=60, now_unix=time.time() - 120).token
    assert "expired" in _problem(httpx.get(sec_api + "/v1/stream", params={"token": expired}, timeout=10), 401)


@dataclass
class RunningStack:
    supervisor: Supervisor
    base_url: str
    addresses: list[tuple[str, str]]
    key: str


@pytest.fixture(scope="module")
def api_stack(sec_seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The stack's real ``api`` component under the supervisor, with a umask that would make
    files world-readable, and an old world-readable api.log left from an earlier run."""
    data_dir = tmp_path_factory.mktemp("stack")
    (data_dir / "logs").mkdir()
    (data_dir / "logs" / "api.log").write_text("old run\n")
    os.chmod(data_dir / "logs" / "api.log", 0o644)
    port = free_port()

    def database(ctx: StackContext) -> None:
        ctx.env["HELIOS_DATABASE_URL"] = sec_seeded.url

    specs = [ComponentSpec(name="database", kind="inline", run=database),
             api_spec(load_settings(api_host="127.0.0.1", api_port=port))]
    sup = Supervisor(specs, data_dir, base_env={"HELIOS_DATA_DIR": str(data_dir)}, echo=lambda _: None)
    old_umask = os.umask(0o022)
    try:
        result = sup.up()
    finally:
        os.umask(old_umask)
    try:
        key = (data_dir / "demo-api-key").read_text().strip()
        yield RunningStack(sup, f"http://127.0.0.1:{port}", result.addresses, key)
    finally:
        sup.down()


def test_make_up_never_prints_the_key_in_a_query_string(api_stack: RunningStack) -> None:
    """Before: ``dashboard  http://…/?key=hg_…`` (the key then sat in every access log line)."""
    printed = "\n".join(f"{name}: {value}" for name, value in api_stack.addresses)
    assert "?key=" not in printed
    dashboard = dict(api_stack.addresses)["dashboard"]
    assert dashboard.split("#", 1)[0].endswith("/")  # whatever follows '#' never leaves the browser
    assert api_stack.key not in dashboard.split("#", 1)[0]


def test_stack_log_files_are_private(api_stack: RunningStack) -> None:
    """Before: log files followed the umask (0644 here); an existing one stayed as it was."""
    log_dir = api_stack.supervisor.log_dir
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in log_dir.glob("*.log")}
    assert modes and all(mode == 0o600 for mode in modes.values()), {k: oct(v) for k, v in modes.items()}
    assert stat.S_IMODE(log_dir.stat().st_mode) == 0o700


def test_a_key_that_still_arrives_in_a_url_is_redacted_from_the_access_log(api_stack: RunningStack) -> None:
    key = api_stack.key
    secret = key.split("_", 2)[2]
    for path in ("/", "/v1/stream", "/v1/sites"):
        with httpx.stream("GET", api_stack.base_url + path, params={"key": key}, timeout=10):
            pass  # the status line is enough: the request is logged
    httpx.get(api_stack.base_url + "/v1/sites", params={"api_key": key, "token": "hgst_x"}, timeout=10)
    log = Path(api_stack.supervisor.log_file("api"))
    deadline = time.monotonic() + 10
    while log.read_text(errors="replace").count("GET /") < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    text = log.read_text(errors="replace")
    assert text.count("GET /") >= 4, text[-2000:]  # the access log is on and saw the requests
    assert secret not in text, "a full API key reached the log"
    assert f"hg_{key.split('_')[1]}_***" in text  # the public key id stays, to find the caller
