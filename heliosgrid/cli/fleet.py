"""``heliosgrid fleet sync|show`` — register sites and devices from the fleet file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from heliosgrid.cli._args import add_action, add_group, add_json_flag, on_local_db
from heliosgrid.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fs = add_group(sub, "fleet", "sites and devices: sync the fleet file into the database, show it")
    sync = add_action(fs, "sync", "upsert sites and devices (idempotent)", cmd_sync)
    show = add_action(fs, "show", "print the fleet file's sites and devices", cmd_show)
    for action in (sync, show):
        action.add_argument("--file", type=Path, help="fleet YAML (default: HELIOS_SITES_FILE or the demo fleet)")
    add_json_flag(show)


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    settings = get_settings()
    return settings.model_copy(update={"sites_file": args.file}) if args.file is not None else settings


def cmd_sync(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from heliosgrid.fleet import fleet_from_settings, sync_fleet

    fleet = fleet_from_settings(settings)
    result = on_local_db(lambda conn: sync_fleet(conn, fleet), settings=settings)
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
