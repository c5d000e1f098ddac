"""Fleet simulator: pvlib physics + stochastic weather + sensor noise + injected faults.

Pipeline per site and local day (steps 1-6 in :mod:`heliosgrid.simulation.signals`, the weather
in :mod:`heliosgrid.simulation.weather`, step 7 in :mod:`heliosgrid.simulation.fault_effects`):

1. Sun position and Ineichen clear-sky irradiance (:mod:`heliosgrid.physics`, pvlib).
2. Each device's GHI = clear-sky GHI × its clear-sky index; DNI/DHI by the Erbs decomposition.
3. Transposition to the device's plane of array (isotropic sky, albedo 0.2).
4. SAPM module (back-sheet) and cell temperatures from POA, ambient and a daily wind speed.
5. PVWatts DC with the device's temperature coefficient; PVWatts inverter with clipping at
   ``ac_capacity_kw``.
6. Sensor noise: POA ±1 % + 1 W/m² (σ), GHI the same, temperatures σ 0.2–0.3 °C; then, by
   default, the real-world imperfections of :mod:`heliosgrid.simulation.noise` (meter noise
   and gain error, irradiance-sensor gain, slow error and soiling, module-temperature lag,
   per-device reporting interval). With ``noise=None`` power is reported noise-free (rounded
   to 1 W), so a fault-free run reports exactly :attr:`SimulationResult.clean_ac_power_kw`.
7. Faults (:mod:`heliosgrid.simulation.faults`) modify power, status and sensors, or drop rows.

Everything random is keyed on (seed, site/device, local day), so any window of time can be
generated alone and equals the same slice of a longer run; :func:`iter_fleet` relies on it.

Time grid: ``freq`` must be a whole number of minutes dividing one day; timestamps are the
multiples of ``freq`` since the Unix epoch (UTC). ``seq`` = whole minutes since the epoch
(``ts // 60 s``), strictly increasing per device and never reused after a restart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from heliosgrid.contract import MEASURE_FIELDS
from heliosgrid.physics import SiteSpec
from heliosgrid.simulation.fault_effects import apply_faults
from heliosgrid.simulation.faults import ENERGY_LOSS_FAULTS, FaultSpec, random_faults
from heliosgrid.simulation.noise import REALISTIC, NoiseProfile, apply_meter_noise, keep_reporting_rows
from heliosgrid.simulation.signals import clean_frames

READING_COLUMNS: tuple[str, ...] = ("device_id", "site_id", "ts", "seq", *MEASURE_FIELDS, "inverter_status")
FAULT_COLUMNS: tuple[str, ...] = (
    "site_id",
    "device_id",
    "fault_type",
    "started_at",
    "ended_at",
    "params",
    "energy_lost_kwh",
)
SEQ_UNIT = pd.Timedelta(minutes=1)
"""``seq`` counts whole minutes since 1970-01-01T00:00Z (see the module docstring)."""

DEFAULT_FAULT_RATE_PER_DEVICE_MONTH = 1.0
RANDOM_BLOCK = pd.Timedelta(days=7)
"""Open-ended random fault schedules are drawn per 7-day block aligned on the epoch."""

FaultsArg = Sequence[FaultSpec] | Literal["random"] | None


@dataclass
class SimulationResult:
    """Output of :func:`simulate_fleet`.

    * ``readings`` — one row per device and step (columns :data:`READING_COLUMNS`, ``ts`` UTC,
      sorted by ``ts`` then ``device_id``); measures a device lacks are NaN/None; rows are
      absent during ``comm_gap`` faults.
    * ``faults`` — ground truth (columns :data:`FAULT_COLUMNS`); ``energy_lost_kwh`` is the
      clean minus faulted AC energy of that fault alone over its window (inside the run).
    * ``clean_ac_power_kw`` — fault-free AC power (kW) per inverter, indexed by (device_id, ts).
    """

    readings: pd.DataFrame
    faults: pd.DataFrame
    clean_ac_power_kw: pd.Series


def grid_step(freq: str | pd.Timedelta) -> pd.Timedelta:
    """Validate ``freq`` (whole minutes, dividing one day) and return it as a Timedelta."""
    try:
        step = pd.Timedelta(freq)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid freq {freq!r}: {exc}") from None
    if step < SEQ_UNIT or step % SEQ_UNIT != pd.Timedelta(0) or pd.Timedelta(days=1) % step != pd.Timedelta(0):
        raise ValueError(f"freq must be a whole number of minutes that divides one day, got {freq!r}")
    return step


def _utc(value: Any, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. '2026-06-01T00:00Z'), got {value!r}")
    return ts.tz_convert("UTC")


def _faults_by_device(faults: Sequence[FaultSpec]) -> dict[str, list[FaultSpec]]:
    out: dict[str, list[FaultSpec]] = {}
    for f in faults:
        out.setdefault(f.device_id, []).append(f)
    return out


def _check_fault_devices(fleet: Sequence[SiteSpec], faults: Sequence[FaultSpec]) -> None:
    known = {d.device_id: d for s in fleet for d in s.devices}
    for f in faults:
        dev = known.get(f.device_id)
        if dev is None:
            raise ValueError(f"fault {f.fault_type} refers to unknown device {f.device_id!r}")
        if dev.kind != "inverter" and f.fault_type in ENERGY_LOSS_FAULTS:
            raise ValueError(f"fault {f.fault_type} needs an inverter; {f.device_id} is a {dev.kind}")


def _simulate_window(
    fleet: Sequence[SiteSpec],
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    seed: int,
    faults: Sequence[FaultSpec],
    with_clean: bool,
    noise: NoiseProfile | None = None,
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Readings (and optionally the clean AC series) of ``fleet`` over ``[start, end)``."""
    by_device = _faults_by_device(faults)
    frames: list[pd.DataFrame] = []
    clean_parts: list[pd.Series] = []
    for site in fleet:
        cleans = clean_frames(site, start, end, step, seed)
        metered = clean_frames(site, start, end, step, seed, noise) if noise is not None else cleans
        for dev in site.devices:
            clean = cleans[dev.device_id]
            measured = apply_faults(metered[dev.device_id], site, dev, by_device.get(dev.device_id, []), step, seed)
            if noise is not None:
                measured = apply_meter_noise(measured, dev, step, seed, noise)
                measured = keep_reporting_rows(measured, noise.interval_for(dev.device_id), step)
            measured = measured.reset_index()
            measured.insert(0, "site_id", site.site_id)
            measured.insert(0, "device_id", dev.device_id)
            frames.append(measured)
            if with_clean and dev.kind == "inverter":
                clean_parts.append(
                    pd.Series(
                        clean["ac_power_kw"].to_numpy(),
                        index=pd.MultiIndex.from_arrays(
                            [np.full(len(clean), dev.device_id, dtype=object), clean.index], names=["device_id", "ts"]
                        ),
                        name="clean_ac_power_kw",
                    )
                )
    if frames:
        readings = pd.concat(frames, ignore_index=True)
    else:
        readings = pd.DataFrame({c: pd.Series(dtype=object) for c in READING_COLUMNS})
    readings["ts"] = pd.to_datetime(readings["ts"], utc=True)
    readings["seq"] = (readings["ts"] - pd.Timestamp(0, tz="UTC")) // SEQ_UNIT
    readings = readings[list(READING_COLUMNS)].sort_values(["ts", "device_id"], kind="stable").reset_index(drop=True)
    readings["seq"] = readings["seq"].astype("int64")
    clean_series: pd.Series | None = None
    if with_clean:
        if clean_parts:
            clean_series = pd.concat(clean_parts).sort_index()
        else:
            clean_series = pd.Series(
                [], index=pd.MultiIndex.from_arrays([[], pd.DatetimeIndex([], tz="UTC")], names=["device_id", "ts"]),
                name="clean_ac_power_kw", dtype=float,
            )
    return readings, clean_series


def fault_ground_truth(
    fleet: Sequence[SiteSpec],
    faults: Sequence[FaultSpec],
    *,
    freq: str = "1min",
    seed: int = 42,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Ground-truth table of ``faults`` (columns :data:`FAULT_COLUMNS`).

    ``energy_lost_kwh`` = Σ (clean AC − AC with this fault alone) × step over the fault window
    clipped to ``[start, end)`` when given; 0 for faults that do not reduce AC. It is exact with
    respect to the reported (1 W-rounded) ``ac_power_kw`` when faults on a device do not overlap.
    """
    step = grid_step(freq)
    _check_fault_devices(fleet, faults)
    lo = _utc(start, "start").ceil(step) if start is not None else None
    hi = _utc(end, "end") if end is not None else None
    sites = {d.device_id: (s, d) for s in fleet for d in s.devices}
    rows: list[dict[str, Any]] = []
    for f in faults:
        site, dev = sites[f.device_id]
        a = max(f.started_at.ceil(step), lo) if lo is not None else f.started_at.ceil(step)
        b = min(f.ended_at, hi) if hi is not None else f.ended_at
        lost = 0.0
        if f.fault_type in ENERGY_LOSS_FAULTS and b > a:
            clean = clean_frames(site, a, b, step, seed)[dev.device_id]
            faulted = apply_faults(clean, site, dev, [f], step, seed)
            diff = clean["ac_power_kw"].to_numpy() - faulted["ac_power_kw"].to_numpy()
            lost = round(float(diff.sum()) * (step / pd.Timedelta(hours=1)), 6)
        rows.append(
            {
                "site_id": site.site_id,
                "device_id": f.device_id,
                "fault_type": f.fault_type,
                "started_at": f.started_at,
                "ended_at": f.ended_at,
                "params": dict(f.params),
                "energy_lost_kwh": lost,
            }
        )
    frame = pd.DataFrame(rows, columns=list(FAULT_COLUMNS))
    frame["energy_lost_kwh"] = frame["energy_lost_kwh"].astype(float)
    return frame


def _resolve_faults(
    fleet: Sequence[SiteSpec],
    start: pd.Timestamp,
    end: pd.Timestamp,
    freq: str,
    seed: int,
    faults: FaultsArg,
    rate: float,
) -> list[FaultSpec]:
    if faults is None:
        return []
    if isinstance(faults, str):
        if faults != "random":
            raise ValueError(f"faults must be a list of FaultSpec, 'random' or None, got {faults!r}")
        return random_faults(fleet, start, end, seed, rate_per_device_month=rate, freq=freq)
    out = list(faults)
    for f in out:
        if not isinstance(f, FaultSpec):
            raise ValueError(f"faults must contain FaultSpec objects, got {type(f).__name__}")
    _check_fault_devices(fleet, out)
    return out


def simulate_fleet(
    fleet: Sequence[SiteSpec],
    start: Any,
    end: Any,
    *,
    freq: str = "1min",
    seed: int = 42,
    faults: FaultsArg = None,
    fault_rate_per_device_month: float = DEFAULT_FAULT_RATE_PER_DEVICE_MONTH,
    noise: NoiseProfile | None = REALISTIC,
) -> SimulationResult:
    """Simulate every device of ``fleet`` over ``[start, end)`` (tz-aware timestamps).

    ``faults``: explicit :class:`FaultSpec` list, ``"random"`` (a :func:`random_faults` schedule
    for this window and seed, covering every fault type) or None. Deterministic for a seed.
    ``noise``: measurement imperfections and per-device reporting intervals
    (:mod:`heliosgrid.simulation.noise`; default :data:`REALISTIC`); ``None`` = exact physics,
    where a fault-free run reports exactly ``clean_ac_power_kw``.
    """
    step = grid_step(freq)
    start_ts, end_ts = _utc(start, "start"), _utc(end, "end")
    if end_ts <= start_ts:
        raise ValueError(f"end ({end_ts}) must be after start ({start_ts})")
    fault_list = _resolve_faults(fleet, start_ts, end_ts, freq, seed, faults, fault_rate_per_device_month)
    readings, clean = _simulate_window(
        fleet, start_ts.ceil(step), end_ts, step, seed, fault_list, with_clean=True, noise=noise
    )
    truth = fault_ground_truth(fleet, fault_list, freq=freq, seed=seed, start=start_ts, end=end_ts)
    assert clean is not None
    return SimulationResult(readings=readings, faults=truth, clean_ac_power_kw=clean)


def random_faults_for_block(
    fleet: Sequence[SiteSpec], block_start: pd.Timestamp, seed: int, freq: str, rate: float
) -> list[FaultSpec]:
    """The random schedule of one epoch-aligned :data:`RANDOM_BLOCK` (open-ended runs)."""
    return random_faults(fleet, block_start, block_start + RANDOM_BLOCK, seed, rate_per_device_month=rate, freq=freq)


def iter_fleet(
    fleet: Sequence[SiteSpec],
    start: Any,
    end: Any = None,
    *,
    freq: str = "1min",
    seed: int = 42,
    faults: FaultsArg = None,
    chunk: str | pd.Timedelta = "1D",
    fault_rate_per_device_month: float = DEFAULT_FAULT_RATE_PER_DEVICE_MONTH,
    noise: NoiseProfile | None = REALISTIC,
) -> Iterator[pd.DataFrame]:
    """Yield readings chunk by chunk (UTC-aligned ``chunk``s, default one day) from ``start``.

    With ``end`` the chunks concatenate to exactly ``simulate_fleet(...).readings`` (same
    faults, including ``"random"``). With ``end=None`` the iterator never ends (real time);
    ``"random"`` faults are then drawn per 7-day block aligned on the epoch
    (:func:`random_faults_for_block`), so a restart reproduces the same schedule.
    """
    step = grid_step(freq)
    size = pd.Timedelta(chunk)
    if size < step or size % step != pd.Timedelta(0):
        raise ValueError(f"chunk {chunk!r} must be a positive multiple of freq {freq!r}")
    start_ts = _utc(start, "start").ceil(step)
    end_ts = _utc(end, "end") if end is not None else None
    if end_ts is not None and end_ts <= start_ts:
        return
    fixed: list[FaultSpec] | None
    if faults is None:
        fixed = []
    elif isinstance(faults, str) and faults == "random" and end_ts is None:
        fixed = None  # drawn per block below
    else:
        fixed = _resolve_faults(
            fleet, _utc(start, "start"), end_ts or start_ts, freq, seed, faults, fault_rate_per_device_month
        )
    epoch = pd.Timestamp(0, tz="UTC")
    cursor = start_ts
    while end_ts is None or cursor < end_ts:
        nxt = epoch + ((cursor - epoch) // size + 1) * size
        if end_ts is not None:
            nxt = min(nxt, end_ts)
        if fixed is not None:
            chunk_faults = fixed
        else:
            first_block = epoch + ((cursor - epoch) // RANDOM_BLOCK) * RANDOM_BLOCK
            chunk_faults = []
            block = first_block
            while block < nxt:
                chunk_faults += random_faults_for_block(fleet, block, seed, freq, fault_rate_per_device_month)
                block += RANDOM_BLOCK
        readings, _ = _simulate_window(fleet, cursor, nxt, step, seed, chunk_faults, with_clean=False, noise=noise)
        yield readings
        cursor = nxt
