"""Small simulated plant (one site, six days) with planted faults, shared by the maintenance unit tests."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from heliosgrid.maintenance.expected import site_features
from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
from heliosgrid.physics import SiteSpec, demo_fleet
from heliosgrid.simulation import FaultSpec, simulate_fleet

START = pd.Timestamp("2026-05-04", tz="UTC")
END = START + pd.Timedelta(days=6)


def _at(day: int, hour: float) -> pd.Timestamp:
    return START + pd.Timedelta(days=day, hours=hour)


PLANTED = [
    FaultSpec("es-tabernas-inv01", "inverter_trip", _at(1, 9), _at(1, 12)),
    FaultSpec("es-tabernas-inv02", "string_outage", _at(2, 9.25), _at(3, 15), {"loss_fraction": 0.25}),
    FaultSpec("es-tabernas-inv03", "soiling", _at(0, 0), _at(6, 0), {"rate_per_day": 0.02}),
    FaultSpec("es-tabernas-inv04", "overheating", _at(1, 9), _at(1, 11), {"delta_c": 20.0, "derate_fraction": 0.2}),
    FaultSpec("es-tabernas-inv04", "stuck_sensor", _at(3, 9), _at(3, 13), {"sensor": "poa_w_m2"}),
    FaultSpec("es-tabernas-ws01", "comm_gap", _at(2, 11), _at(2, 12)),
    FaultSpec("es-tabernas-ws01", "irradiance_drift", _at(3, 0), _at(6, 0), {"drift_per_day": 0.05}),
]


@dataclass
class Plant:
    site: SiteSpec
    frames: dict[str, pd.DataFrame]
    features: dict[str, pd.DataFrame]
    truth: pd.DataFrame

    def device(self, device_id: str):  # type: ignore[no-untyped-def]
        return next(d for d in self.site.devices if d.device_id == device_id)


def make_plant(faults: list[FaultSpec] | None) -> Plant:
    site = next(s for s in demo_fleet() if s.site_id == "es-tabernas")
    sim = simulate_fleet([site], START, END, seed=7, faults=faults, noise=None)  # exact physics: detector logic
    frames = device_frames(rollup_15m(sim.readings), site, bucket_grid(START, END))
    return Plant(site, frames, site_features(site, frames), sim.faults)
