"""Discovery of migration files: naming, backend variants, ordering (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from heliosgrid.db.migrate import DEFAULT_MIGRATIONS_DIR, MigrationError, discover


def _write(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_text(f"-- {name}\nSELECT 1;\n", encoding="utf-8")


def test_repository_migrations_are_well_formed_for_both_backends() -> None:
    for backend in ("postgres", "timescaledb"):
        migrations = discover(DEFAULT_MIGRATIONS_DIR, backend)  # type: ignore[arg-type]
        versions = [m.version for m in migrations]
        assert versions == sorted(set(versions))
        assert versions[:6] == [1, 2, 3, 4, 5, 6]
        for m in migrations:
            assert m.path.name.endswith((".sql",))
            assert ".postgres." not in m.path.name or backend == "postgres"
            assert ".timescaledb." not in m.path.name or backend == "timescaledb"
            assert len(m.checksum) == 64


def test_backend_variant_is_chosen(tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "0002_b.postgres.sql", "0002_b.timescaledb.sql", "0010_c.sql")
    pg = discover(tmp_path, "postgres")
    ts = discover(tmp_path, "timescaledb")
    assert [m.version for m in pg] == [1, 2, 10]
    assert pg[1].path.name == "0002_b.postgres.sql"
    assert ts[1].path.name == "0002_b.timescaledb.sql"
    assert pg[0].checksum == ts[0].checksum


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["1_short.sql"], "1_short.sql: not a migration name"),
        (["0001_Upper.sql"], "0001_Upper.sql: not a migration name"),
        (["0001_a.mysql.sql"], "0001_a.mysql.sql: not a migration name"),
        (["0001_a.sql", "0001_b.sql"], "two migrations share version 0001: a and b"),
        (["0003_x.postgres.sql"], "migration 0003 needs both .timescaledb.sql and .postgres.sql variants"),
        (["0004_y.sql", "0004_y.postgres.sql", "0004_y.timescaledb.sql"], "both a common file and backend variants"),
    ],
)
def test_bad_directories_are_refused_with_the_file_named(tmp_path: Path, names: list[str], message: str) -> None:
    _write(tmp_path, *names)
    with pytest.raises(MigrationError) as info:
        discover(tmp_path, "postgres")
    assert message in str(info.value)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="migrations directory not found"):
        discover(tmp_path / "nope", "postgres")
