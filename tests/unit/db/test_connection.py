"""Connection URL helpers (no database needed)."""

from __future__ import annotations

import pytest

from heliosgrid.db.connection import with_database


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://postgres@127.0.0.1:5432/heliosgrid"),
        ("postgresql://u:p@h:5432/db?sslmode=disable", "postgresql://u:p@h:5432/heliosgrid?sslmode=disable"),
        # the embedded server (pgserver) uses a Unix socket in the query string
        ("postgresql://postgres:@/postgres?host=/srv/helios/.helios/pgdata",
         "postgresql://postgres:@/heliosgrid?host=/srv/helios/.helios/pgdata"),
        ("postgresql://h", "postgresql://h/heliosgrid"),
    ],
)
def test_with_database_replaces_only_the_database(url: str, expected: str) -> None:
    assert with_database(url, "heliosgrid") == expected


def test_with_database_keyword_form() -> None:
    out = with_database("host=/tmp/sock user=postgres dbname=postgres", "heliosgrid")
    assert "dbname=heliosgrid" in out
    assert "host=/tmp/sock" in out
    assert "dbname=postgres" not in out


# --- resolve_database_url is pure --------------------------------------------------------------

def _no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    import heliosgrid.db.embedded

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("resolve_database_url must not connect or start a database")

    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(heliosgrid.db.embedded, "start_embedded", refuse)


def test_resolver_returns_the_configured_url_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    from heliosgrid.db.connection import resolve_database_url
    from heliosgrid.settings import load_settings

    _no_io(monkeypatch)
    url = "postgresql://app:s3cret@db.example:6543/helios?sslmode=require"
    assert resolve_database_url(load_settings(database_url=url)) == url


def test_resolver_without_url_is_the_local_default_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from heliosgrid.db.connection import resolve_database_url
    from heliosgrid.settings import load_settings

    monkeypatch.delenv("HELIOS_DATABASE_URL", raising=False)
    _no_io(monkeypatch)
    settings = load_settings(database_url=None, local_database_name="plant_a", data_dir=tmp_path)
    assert resolve_database_url(settings) == "postgresql://postgres@127.0.0.1:5432/plant_a"
    assert resolve_database_url(load_settings(database_url="  ", data_dir=tmp_path)).endswith(":5432/heliosgrid")
    assert not (tmp_path / "pgdata").exists()  # type: ignore[operator]
