"""Small synthetic fleets and readings for tests and the ingest benchmark.

The physics-based simulator lives in ``producer/``; this module only makes contract-valid
readings of a known shape quickly (the benchmark needs hundreds of thousands per second)
and registers their sites/devices directly in the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from heliosgrid.contract import ReadingV1


def fleet_ids(prefix: str, n_sites: int, devices_per_site: int) -> list[tuple[str, str]]:
    """``(device_id, site_id)`` pairs: ``{prefix}-s{i}`` sites with ``{prefix}-s{i}-inv{j}`` inverters."""
    return [
        (f"{prefix}-s{i}-inv{j}", f"{prefix}-s{i}")
        for i in range(n_sites)
        for j in range(devices_per_site)
    ]


def register_devices(conn: psycopg.Connection[Any], devices: Sequence[tuple[str, str]]) -> None:
    """Insert the sites and inverters (idempotent) in the caller's transaction."""
    sites = sorted({s for _, s in devices})
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sites (site_id, name, latitude_deg, longitude_deg) VALUES (%s, %s, 40.0, -3.7) "
            "ON CONFLICT DO NOTHING",
            [(s, f"synthetic {s}") for s in sites],
        )
        cur.executemany(
            "INSERT INTO devices (device_id, site_id, kind, dc_capacity_kw, ac_capacity_kw) "
            "VALUES (%s, %s, 'inverter', 120, 100) ON CONFLICT DO NOTHING",
            list(devices),
        )


def reading(device_id: str, site_id: str, ts: datetime, seq: int) -> ReadingV1:
    """A plausible daytime inverter reading (values vary with ``seq`` so rows differ)."""
    poa = 200.0 + (seq % 800)
    dc = poa * 0.1
    return ReadingV1(
        schema_version=1,
        device_id=device_id,
        site_id=site_id,
        ts=ts,
        seq=seq,
        ghi_w_m2=poa * 0.9,
        poa_w_m2=poa,
        ambient_temp_c=20.0,
        module_temp_c=20.0 + poa / 40,
        dc_power_kw=dc,
        ac_power_kw=dc * 0.96,
        inverter_status="ok",
    )


def readings_stream(
    devices: Sequence[tuple[str, str]], start: datetime, per_device: int, interval_s: float = 60.0,
    first_seq: int = 0,
) -> Iterator[ReadingV1]:
    """``per_device`` readings for every device, interleaved in time order; seq = first_seq + step."""
    for step in range(per_device):
        ts = start + timedelta(seconds=interval_s * step)
        for device_id, site_id in devices:
            yield reading(device_id, site_id, ts, first_seq + step)
