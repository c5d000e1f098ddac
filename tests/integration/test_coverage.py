"""heliosgrid.coverage on PostgreSQL and native TimescaleDB: the maintenance run persists its
"not evaluated: reason" rows (migration 0120), idempotently per data interval, and ``heliosgrid
status`` reads them back."""

from __future__ import annotations

import pandas as pd
import pytest

from heliosgrid.coverage import current_coverage, status_coverage
from heliosgrid.db.connection import open_connection
from heliosgrid.fleet import sync_fleet
from heliosgrid.maintenance.runner import run_maintenance
from heliosgrid.physics import demo_fleet
from heliosgrid.settings import load_settings
from heliosgrid.simulation import simulate_fleet
from heliosgrid.status import database_status

pytestmark = pytest.mark.integration

START = pd.Timestamp("2026-05-10", tz="UTC")
END = START + pd.Timedelta(days=2)
COLUMNS = (
    "device_id", "ts", "site_id", "ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c",
    "dc_power_kw", "ac_power_kw", "inverter_status", "seq",
)  # fmt: skip


def _load(url: str) -> None:
    site = next(s for s in demo_fleet() if s.site_id == "us-golden")
    sim = simulate_fleet([site], START, END, seed=5, freq="15min")
    with open_connection(url, autocommit=True) as conn:
        sync_fleet(conn, [site])
        if conn.execute("SELECT to_regprocedure('helios_ensure_partitions(text,timestamptz,timestamptz)')").fetchone()[0]:  # type: ignore[index]
            conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (START.to_pydatetime(), END.to_pydatetime()))
        frame = sim.readings[list(COLUMNS)].astype(object).where(sim.readings[list(COLUMNS)].notna(), None)
        with conn.cursor() as cur, cur.copy(f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for r in frame.itertuples(index=False):
                copy.write_row(r)


def _persisted(url: str) -> dict[str, dict[str, str]]:
    with open_connection(url, autocommit=True) as conn:
        (entry,) = current_coverage(conn, "us-golden")
        out: dict[str, dict[str, str]] = {}
        for n in entry["not_evaluated"]:
            out.setdefault(n["device_id"], {})[n["detector"]] = n["reason"]
        return out


def _check_backend(url: str) -> None:
    _load(url)
    settings = load_settings()
    day = START + pd.Timedelta(days=1)
    with open_connection(url, autocommit=True) as conn:
        summary = run_maintenance(conn, settings, START.to_pydatetime(), day.to_pydatetime())
        # The first day: thresholds in warm-up, so some detectors say why they could not run.
        assert summary["not_evaluated"], summary
        assert _persisted(url) == summary["not_evaluated"]
        n_rows = conn.execute("SELECT count(*) FROM maintenance_not_evaluated").fetchone()[0]  # type: ignore[index]
        # Same data interval again: replaced, not duplicated.
        run_maintenance(conn, settings, START.to_pydatetime(), day.to_pydatetime())
        assert conn.execute("SELECT count(*) FROM maintenance_not_evaluated").fetchone()[0] == n_rows  # type: ignore[index]
        assert conn.execute("SELECT count(*) FROM maintenance_runs").fetchone()[0] == 1  # type: ignore[index]
        # A later interval becomes the current one.
        later = run_maintenance(conn, settings, day.to_pydatetime(), END.to_pydatetime())
        (entry,) = current_coverage(conn)
        assert entry["window_end"] == END.to_pydatetime()
        rows = status_coverage(conn)
    assert len(rows) == sum(len(v) for v in later["not_evaluated"].values())
    assert {(r["device_id"], r["detector"], r["reason"]) for r in rows} == {
        (d, k, v) for d, reasons in later["not_evaluated"].items() for k, v in reasons.items()
    }
    assert database_status(url)["maintenance_not_evaluated"] == rows


def test_not_evaluated_persisted_on_postgres(fresh_db) -> None:  # type: ignore[no-untyped-def]
    _check_backend(fresh_db())


def test_not_evaluated_persisted_on_timescaledb(timescale_fresh_db) -> None:  # type: ignore[no-untyped-def]
    _check_backend(timescale_fresh_db())


def test_status_coverage_empty_before_any_run(fresh_db) -> None:  # type: ignore[no-untyped-def]
    with open_connection(fresh_db(), autocommit=True) as conn:
        assert status_coverage(conn) == []
        assert current_coverage(conn) == []
