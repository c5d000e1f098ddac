"""``heliosgrid fleet sync|show`` — register sites and devices from the fleet file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fleet", help="sites and devices: sync the fleet file into the database, show it")
    fs = p.add_subparsers(dest="fleet_command", metavar="ACTION")
    fs.required = True
    s = fs.add_parser("sync", help="upsert sites and devices (idempotent)")
    s.add_argument("--file", type=Path, help="fleet YAML (default: HELIOS_SITES_FILE or the demo fleet)")
    s.set_defaults(func=cmd_sync)
    sh = fs.add_parser("show", help="print the fleet file's sites and devices")
    sh.add_argument("--file", type=Path, help="fleet YAML (default: HELIOS_SITES_FILE or the demo fleet)")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(func=cmd_show)


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    settings = get_settings()
    return settings.model_copy(update={"sites_file": args.file}) if args.file is not None else settings


def cmd_sync(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from heliosgrid.db.connection import ensure_local_database, open_connection
    from heliosgrid.fleet import fleet_from_settings, sync_fleet

    fleet = fleet_from_settings(settings)
    with open_connection(ensure_local_database(settings), autocommit=True) as conn:
        result = sync_fleet(conn, fleet)
    print(f"fleet synced: {result.sites} site(s), {result.devices} device(s)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from heliosgrid.fleet import fleet_from_settings

    fleet = fleet_from_settings(_settings(args))
    if args.json:
        print(json.dumps([
            {"site_id": s.site_id, "name": s.name, "latitude_deg": s.latitude_deg, "longitude_deg": s.longitude_deg,
             "dc_capacity_kw": s.dc_capacity_kw, "ac_capacity_kw": s.ac_capacity_kw,
             "devices": [d.device_id for d in s.devices]} for s in fleet
        ], indent=2))
    else:
        for s in fleet:
            print(f"{s.site_id:<16} {s.name:<28} {s.dc_capacity_kw:>8.0f} kWdc {s.ac_capacity_kw:>8.0f} kWac  "
                  f"{len(s.inverters)} inverter(s), {len(s.devices) - len(s.inverters)} weather station(s)")
    return 0
