"""Registration of the fleet (sites and devices) in the database.

``sync_fleet`` upserts every site and device of a fleet description (the YAML file named by
``Settings.sites_file``, or the demo fleet) into the ``sites`` and ``devices`` tables. It is
idempotent: running it twice changes nothing, and changed metadata (capacities, orientation)
is updated in place. Sites or devices absent from the file are left untouched — their history
stays queryable; removing a plant is a deliberate DBA action, not a side effect of a file edit.

The consumer rejects readings of unknown devices (reason ``unknown_device``), so the producer
calls this at start-up before it sends anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from heliosgrid.physics import SiteSpec, load_fleet
from heliosgrid.settings import Settings

_SITE_UPSERT = """
INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, altitude_m, timezone, dc_capacity_kw, ac_capacity_kw)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (site_id) DO UPDATE SET
    name = EXCLUDED.name, latitude_deg = EXCLUDED.latitude_deg, longitude_deg = EXCLUDED.longitude_deg,
    altitude_m = EXCLUDED.altitude_m, timezone = EXCLUDED.timezone,
    dc_capacity_kw = EXCLUDED.dc_capacity_kw, ac_capacity_kw = EXCLUDED.ac_capacity_kw
"""

_DEVICE_UPSERT = """
INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw,
                     ac_capacity_kw, gamma_pdc_per_c, inverter_efficiency, tracking, tracker_max_angle_deg,
                     tracker_gcr)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id) DO UPDATE SET
    site_id = EXCLUDED.site_id, kind = EXCLUDED.kind, surface_tilt_deg = EXCLUDED.surface_tilt_deg,
    surface_azimuth_deg = EXCLUDED.surface_azimuth_deg, dc_capacity_kw = EXCLUDED.dc_capacity_kw,
    ac_capacity_kw = EXCLUDED.ac_capacity_kw, gamma_pdc_per_c = EXCLUDED.gamma_pdc_per_c,
    inverter_efficiency = EXCLUDED.inverter_efficiency, tracking = EXCLUDED.tracking,
    tracker_max_angle_deg = EXCLUDED.tracker_max_angle_deg, tracker_gcr = EXCLUDED.tracker_gcr
"""


@dataclass(frozen=True)
class SyncResult:
    """How many sites and devices the fleet file holds (all of them were upserted)."""

    sites: int
    devices: int


def fleet_from_settings(settings: Settings) -> list[SiteSpec]:
    """The fleet named by ``settings.sites_file`` (demo fleet when unset), with a clear error."""
    path: Path | None = settings.sites_file
    if path is not None and not path.is_file():
        raise ValueError(f"fleet file {path} does not exist (HELIOS_SITES_FILE)")
    try:
        fleet = load_fleet(path)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"fleet file {path}: missing or invalid field {exc}") from None
    validate_fleet(fleet)
    return fleet


def validate_fleet(fleet: Sequence[SiteSpec]) -> None:
    """Raise ``ValueError`` for duplicate ids (a device id must be unique across the fleet)."""
    seen_sites: set[str] = set()
    seen_devices: set[str] = set()
    for site in fleet:
        if site.site_id in seen_sites:
            raise ValueError(f"duplicate site_id {site.site_id!r} in the fleet")
        seen_sites.add(site.site_id)
        for dev in site.devices:
            if dev.device_id in seen_devices:
                raise ValueError(f"duplicate device_id {dev.device_id!r} in the fleet")
            seen_devices.add(dev.device_id)


def sync_fleet(conn: psycopg.Connection, fleet: Sequence[SiteSpec]) -> SyncResult:
    """Upsert ``fleet`` into ``sites`` and ``devices`` in one transaction (idempotent)."""
    validate_fleet(fleet)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            _SITE_UPSERT,
            [
                (s.site_id, s.name, s.latitude_deg, s.longitude_deg, s.altitude_m, s.timezone,
                 s.dc_capacity_kw, s.ac_capacity_kw)
                for s in fleet
            ],
        )
        devices = [d for s in fleet for d in s.devices]
        cur.executemany(
            _DEVICE_UPSERT,
            [
                (d.device_id, d.site_id, d.kind, d.surface_tilt_deg, d.surface_azimuth_deg, d.dc_capacity_kw,
                 d.ac_capacity_kw, d.gamma_pdc_per_c, d.inverter_efficiency, d.tracking, d.max_angle_deg, d.gcr)
                for d in devices
            ],
        )
    return SyncResult(sites=len(fleet), devices=len(devices))
