"""`heliosgrid apikey create|list|revoke` and `heliosgrid api --write-openapi` (in-process CLI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_seed import Seeded

from heliosgrid.cli import main
from heliosgrid.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_db(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HELIOS_DATABASE_URL", seeded.url)
    get_settings.cache_clear()
    yield seeded.url
    get_settings.cache_clear()


def test_apikey_lifecycle(cli_db: str, api: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apikey", "create", "--name", "cli-test", "--scope", "read", "--scope", "read", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["scopes"] == ["read"] and created["secret"].startswith(f"hg_{created['key_id']}_")
    assert httpx.get(api + "/v1/sites", headers={"X-API-Key": created["secret"]}).status_code == 200

    assert main(["apikey", "list"]) == 0
    listing = capsys.readouterr().out
    assert created["key_id"] in listing and "cli-test" in listing and created["secret"] not in listing

    assert main(["apikey", "revoke", created["key_id"]]) == 0
    assert "revoked API key" in capsys.readouterr().out
    assert httpx.get(api + "/v1/sites", headers={"X-API-Key": created["secret"]}).status_code == 401

    assert main(["apikey", "revoke", "00000000"]) == 2
    assert "no API key with id '00000000'" in capsys.readouterr().err
    assert main(["apikey", "create", "--name", "bad\nname", "--scope", "read"]) == 2
    assert "key name must be" in capsys.readouterr().err


def test_apikey_rejects_unknown_scope(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["apikey", "create", "--name", "x", "--scope", "superuser"])
    assert info.value.code == 2 and "invalid choice: 'superuser'" in capsys.readouterr().err


def test_write_openapi(tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_db: str) -> None:
    out = tmp_path / "spec.json"
    assert main(["api", "--write-openapi", str(out)]) == 0
    spec = json.loads(out.read_text(encoding="utf-8"))
    assert "/v1/readings" in spec["paths"] and spec["info"]["title"] == "HeliosGrid API"
    assert "wrote" in capsys.readouterr().out
