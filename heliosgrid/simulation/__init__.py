"""Plant simulator library: pvlib physics, stochastic weather, sensor noise, faults, ground truth.

The producer service (``producer/``) streams what this library generates; maintenance
detectors are evaluated against its ground truth. It never imports a service.

>>> from heliosgrid.physics import demo_fleet
>>> result = simulate_fleet(demo_fleet(), "2026-06-01T00:00Z", "2026-06-02T00:00Z", faults="random")
"""

from heliosgrid.simulation.faults import (
    DEFAULT_PARAMS,
    ENERGY_LOSS_FAULTS,
    FAULT_TYPES,
    INVERTER_ONLY_FAULTS,
    FaultSpec,
    random_faults,
)
from heliosgrid.simulation.simulator import (
    FAULT_COLUMNS,
    RANDOM_BLOCK,
    READING_COLUMNS,
    SEQ_UNIT,
    SimulationResult,
    fault_ground_truth,
    grid_step,
    iter_fleet,
    random_faults_for_block,
    simulate_fleet,
)

__all__ = [
    "DEFAULT_PARAMS",
    "ENERGY_LOSS_FAULTS",
    "FAULT_COLUMNS",
    "FAULT_TYPES",
    "INVERTER_ONLY_FAULTS",
    "RANDOM_BLOCK",
    "READING_COLUMNS",
    "SEQ_UNIT",
    "FaultSpec",
    "SimulationResult",
    "fault_ground_truth",
    "grid_step",
    "iter_fleet",
    "random_faults",
    "random_faults_for_block",
    "simulate_fleet",
]
