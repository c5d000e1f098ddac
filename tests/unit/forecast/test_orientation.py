"""The orientation search and the default orientation face the equator in both hemispheres."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from heliosgrid.forecast.solar import candidate_azimuths_deg, infer_orientation, site_from_capacity
from heliosgrid.physics.fleet import load_fleet
from tests.southern import SOUTH_AC_KW, SOUTH_WHERE, southern_readings


def _off_deg(a: float, b: float) -> float:
    """Angle between two azimuths (degrees, 0–180)."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.mark.parametrize(("latitude_deg", "has", "lacks"), [(39.7, 180.0, 0.0), (-33.9, 0.0, 180.0), (-12.0, 0.0, None),
                                                            (5.0, 180.0, None)])
def test_the_azimuths_searched_run_from_east_through_the_equator_to_west(
    latitude_deg: float, has: float, lacks: float | None
) -> None:
    azimuths = candidate_azimuths_deg(latitude_deg)
    assert has in azimuths and {90.0, 270.0} <= set(azimuths)
    assert all(0.0 <= a < 360.0 for a in azimuths) and len(set(azimuths)) == len(azimuths)
    if lacks is None:  # the tropics: both ways
        assert {0.0, 180.0} <= set(azimuths)
    else:
        assert lacks not in azimuths


def test_an_array_without_a_given_azimuth_faces_the_equator(tmp_path: Path) -> None:
    assert site_from_capacity("n", 39.7, -105.2, 5.0).devices[0].surface_azimuth_deg == 180.0
    assert site_from_capacity("s", -33.9, 151.2, 5.0).devices[0].surface_azimuth_deg == 0.0
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("sites:\n  - {site_id: syd, latitude_deg: -33.9, longitude_deg: 151.2,\n"
                     "     inverters: {count: 1, dc_capacity_kw: 6, ac_capacity_kw: 5}}\n", encoding="utf-8")
    assert load_fleet(fleet)[0].inverters[0].surface_azimuth_deg == 0.0


def test_a_north_facing_array_south_of_the_equator_is_found_facing_north() -> None:
    """Real weather (PVDAQ 50, May 2013) under the sun of a north-facing 25° array near Sydney
    (:mod:`tests.southern`). The search used to try only 90–270°: it settled on 180°, the wrong side."""
    r = southern_readings()
    series = pd.Series(r["ac_power_kw"].to_numpy(), index=pd.DatetimeIndex(r["ts"]))
    base = site_from_capacity("south", SOUTH_WHERE[0], SOUTH_WHERE[1], SOUTH_AC_KW, altitude_m=SOUTH_WHERE[2])
    found = infer_orientation(series, base, SOUTH_AC_KW).devices[0]
    assert _off_deg(found.surface_azimuth_deg, 0.0) <= 30.0
