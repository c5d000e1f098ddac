"""Session fixtures of the maintenance unit tests (see maintenance_plant.py)."""

from __future__ import annotations

import pytest
from maintenance_plant import PLANTED, Plant, make_plant

from heliosgrid.maintenance.detectors import Finding
from heliosgrid.maintenance.engine import analyse_site


@pytest.fixture(scope="session")
def faulty_plant() -> Plant:
    return make_plant(PLANTED)


@pytest.fixture(scope="session")
def clean_plant() -> Plant:
    return make_plant(None)


@pytest.fixture(scope="session")
def faulty_findings(faulty_plant: Plant) -> list[Finding]:
    return analyse_site(faulty_plant.site, faulty_plant.frames)


@pytest.fixture(scope="session")
def clean_findings(clean_plant: Plant) -> list[Finding]:
    return analyse_site(clean_plant.site, clean_plant.frames)
