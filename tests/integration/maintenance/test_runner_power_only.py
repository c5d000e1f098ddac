"""run_maintenance against real PostgreSQL at a site whose devices report power and no irradiance at all: the
clear sky is the reference, the planted trip is an alert, the string test says why it cannot judge (ADR 0700)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from heliosgrid import alerts
from heliosgrid.db.connection import open_connection
from heliosgrid.fleet import sync_fleet
from heliosgrid.maintenance.capability import CLEAR_SKY_ONLY_REASON
from heliosgrid.maintenance.runner import run_maintenance
from heliosgrid.physics import demo_fleet
from heliosgrid.settings import load_settings
from heliosgrid.simulation import FaultSpec, simulate_fleet

pytestmark = pytest.mark.integration

START = pd.Timestamp("2026-05-10", tz="UTC")
END = START + pd.Timedelta(days=3)
TRIP = FaultSpec(
    "us-golden-inv01", "inverter_trip", START + pd.Timedelta(days=2, hours=16), START + pd.Timedelta(days=2, hours=19)
)
COLUMNS = ("device_id", "ts", "site_id", "ambient_temp_c", "module_temp_c", "dc_power_kw", "ac_power_kw",
           "inverter_status", "seq")  # no ghi_w_m2, no poa_w_m2: a power-only plant


@pytest.fixture(scope="module")
def power_only(pg_db: str) -> Iterator[str]:
    site = next(s for s in demo_fleet() if s.site_id == "us-golden")
    sim = simulate_fleet([site], START, END, seed=11, faults=[TRIP], noise=None)
    with open_connection(pg_db, autocommit=True) as conn:
        sync_fleet(conn, [site])
        conn.execute("SELECT helios_ensure_partitions('readings', %s, %s)", (START.to_pydatetime(), END.to_pydatetime()))
        frame = sim.readings[list(COLUMNS)].astype(object).where(sim.readings[list(COLUMNS)].notna(), None)
        with conn.cursor() as cur, cur.copy(f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in frame.itertuples(index=False):
                copy.write_row(row)
    yield pg_db


def test_a_power_only_site_gets_its_trip_and_the_reasons_for_what_it_cannot_judge(power_only: str) -> None:
    day = START + pd.Timedelta(days=2)
    with open_connection(power_only, autocommit=True) as conn:
        summary = run_maintenance(conn, load_settings(), day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime())
        raised = alerts.list_alerts(conn, site_id="us-golden", source="maintenance", limit=100)
    assert [(a.device_id, a.fault_type) for a in raised if a.fault_type != "degradation"] == [
        ("us-golden-inv01", "inverter_trip")
    ]  # the healthy inverters raise nothing against the clear sky
    (trip,) = [a for a in raised if a.fault_type == "inverter_trip"]
    assert trip.evidence["reference"] == "clear_sky" and "judged against the clear sky" in trip.title
    reasons = summary["not_evaluated"]["us-golden-inv01"]
    assert reasons["string_outage"] == reasons["soiling"] == CLEAR_SKY_ONLY_REASON
    assert "inverter_trip" not in reasons
