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
