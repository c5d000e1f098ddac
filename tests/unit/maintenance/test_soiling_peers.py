"""Soiling against the cleanest peer (sites with several inverters) and irradiance drift against
the sensor's own level: simulated plant with realistic noise (sensor gain errors and slow
irradiance errors that the model ratio cannot average away)."""

from __future__ import annotations

import pandas as pd
import pytest

from heliosgrid.maintenance.detectors import Finding
from heliosgrid.maintenance.engine import analyse_site
from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
from heliosgrid.physics import SiteSpec, demo_fleet
from heliosgrid.simulation import FaultSpec, simulate_fleet

START = pd.Timestamp("2026-06-01", tz="UTC")
END = START + pd.Timedelta(days=20)
SOILED = "es-sevilla-inv02"
SOIL_START = START + pd.Timedelta(days=4, hours=10)
SOIL_END = START + pd.Timedelta(days=16, hours=10)  # cleaned


def _site() -> SiteSpec:
    return next(s for s in demo_fleet() if s.site_id == "es-sevilla")


@pytest.fixture(scope="module")
def run() -> tuple[list[Finding], pd.DataFrame]:
    faults = [
        FaultSpec(SOILED, "soiling", SOIL_START, SOIL_END, {"rate_per_day": 0.008}),
        # A peer's 3-day string outage: a step on the peer, not soiling of anyone.
        FaultSpec(
            "es-sevilla-inv03",
            "string_outage",
            START + pd.Timedelta(days=7, hours=9),
            START + pd.Timedelta(days=10),
            {"loss_fraction": 0.25},
        ),
    ]
    sim = simulate_fleet([_site()], START, END, seed=3, faults=faults)
    frames = device_frames(rollup_15m(sim.readings), _site(), bucket_grid(START, END))
    return analyse_site(_site(), frames, info=False), sim.faults


def test_soiling_found_on_its_device_only(run: tuple[list[Finding], pd.DataFrame]) -> None:
    findings, _ = run
    soiled = {f.device_id for f in findings if f.fault_type == "soiling"}
    assert soiled == {SOILED}


def test_soiling_episode_ends_at_the_cleaning_with_its_energy(run: tuple[list[Finding], pd.DataFrame]) -> None:
    findings, truth = run
    (found,) = [f for f in findings if f.fault_type == "soiling"]
    assert found.evidence["reference"] == "peers"
    assert abs(found.ended_at - SOIL_END) <= pd.Timedelta(days=1)
    assert abs(found.started_at - SOIL_START) <= pd.Timedelta(days=3)
    true_kwh = float(truth[truth["fault_type"] == "soiling"]["energy_lost_kwh"].iloc[0])
    assert found.energy_lost_kwh == pytest.approx(true_kwh, rel=0.25)


def test_no_drift_alert_from_sensor_gain_errors_and_slow_noise(run: tuple[list[Finding], pd.DataFrame]) -> None:
    findings, _ = run
    assert [f for f in findings if f.fault_type == "irradiance_drift"] == []
