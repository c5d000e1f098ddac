"""Effect of injected faults on one device's clean signals (step 7 of the simulator).

See :mod:`heliosgrid.simulation.faults` for the fault types and their parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from heliosgrid.physics import DeviceSpec, SiteSpec
from heliosgrid.simulation.faults import FaultSpec
from heliosgrid.simulation.signals import POA_MAX_W_M2, inverter_ac, value_before

_MODULE_TEMP_MAX_C = 105.0
"""Upper clip of a measured module temperature (°C) under an overheating fault."""


def apply_faults(
    clean: pd.DataFrame,
    site: SiteSpec,
    device: DeviceSpec,
    faults: Sequence[FaultSpec],
    step: pd.Timedelta,
    seed: int,
) -> pd.DataFrame:
    """Measured frame of one device after ``faults``; adds ``inverter_status``, drops gap rows."""
    out = clean.copy()
    idx = clean.index
    n = len(idx)
    dc_factor = np.ones(n)
    ac_factor = np.ones(n)
    trip = np.zeros(n, dtype=bool)
    present = np.ones(n, dtype=bool)
    for fault in faults:
        mask = np.asarray((idx >= fault.started_at) & (idx < fault.ended_at))
        if not mask.any():
            continue
        days = np.asarray((idx[mask] - fault.started_at) / pd.Timedelta(days=1), dtype=float)
        p = fault.params
        kind = fault.fault_type
        if kind == "inverter_trip":
            trip |= mask
        elif kind == "string_outage":
            dc_factor[mask] *= 1.0 - float(p["loss_fraction"])
        elif kind == "soiling":
            dc_factor[mask] *= 1.0 - np.minimum(float(p["rate_per_day"]) * days, float(p["max_loss"]))
        elif kind == "overheating":
            ac_factor[mask] *= 1.0 - float(p["derate_fraction"])
            col = out.columns.get_loc("module_temp_c")
            out.iloc[mask, col] = np.round(np.minimum(out.iloc[mask, col] + float(p["delta_c"]), _MODULE_TEMP_MAX_C), 2)
        elif kind == "irradiance_drift":
            col = out.columns.get_loc("poa_w_m2")
            gain = 1.0 + float(p["drift_per_day"]) * days
            out.iloc[mask, col] = np.round(np.clip(out.iloc[mask, col] * gain, -5.0, POA_MAX_W_M2), 1)
        elif kind == "stuck_sensor":
            sensor = str(p["sensor"])
            if not np.isnan(clean[sensor].to_numpy()).all():
                value = value_before(site, device, fault.started_at, sensor, step, seed)
                out.iloc[mask, out.columns.get_loc(sensor)] = value
        elif kind == "comm_gap":
            present &= ~mask
    if device.kind == "inverter":
        if (dc_factor != 1.0).any() or (ac_factor != 1.0).any():
            dc_in = clean["dc_power_kw"].to_numpy() * dc_factor
            # A derating inverter (overheating) leaves its MPP: DC input falls with the AC output.
            out["ac_power_kw"] = np.round(inverter_ac(dc_in, device) * ac_factor, 3)
            out["dc_power_kw"] = dc_in * ac_factor
        dc_out = np.where(trip, 0.0, out["dc_power_kw"].to_numpy())
        ac_out = np.where(trip, 0.0, out["ac_power_kw"].to_numpy())
        out["dc_power_kw"] = np.round(dc_out, 3)
        out["ac_power_kw"] = ac_out
        out["inverter_status"] = np.where(trip, "fault", np.where(ac_out > 0.0, "ok", "standby")).astype(object)
    else:
        out["inverter_status"] = None
    return out.loc[present]
