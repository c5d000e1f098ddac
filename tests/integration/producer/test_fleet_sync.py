"""Fleet registration against real PostgreSQL: idempotent upsert, metadata updates, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.fleet import sync_fleet, validate_fleet
from heliosgrid.physics import demo_fleet

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def test_sync_is_idempotent_and_updates_metadata(pg_db: str) -> None:
    fleet = demo_fleet()
    with open_connection(pg_db, autocommit=True) as conn:
        first = sync_fleet(conn, fleet)
        again = sync_fleet(conn, fleet)
        assert first == again and (first.sites, first.devices) == (3, 12)
        assert conn.execute("SELECT count(*) FROM sites").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM devices").fetchone() == (12,)
        site = fleet[0]
        changed_dev = replace(site.devices[0], ac_capacity_kw=222.0, surface_tilt_deg=12.0)
        changed = replace(site, name="Renamed", devices=(changed_dev, *site.devices[1:]))
        sync_fleet(conn, [changed])
        row = conn.execute("SELECT ac_capacity_kw, surface_tilt_deg FROM devices WHERE device_id = %s",
                           (changed_dev.device_id,)).fetchone()
        assert row == (222.0, 12.0)
        assert conn.execute("SELECT name, ac_capacity_kw FROM sites WHERE site_id = %s",
                            (site.site_id,)).fetchone() == ("Renamed", changed.ac_capacity_kw)
        assert conn.execute("SELECT count(*) FROM devices").fetchone() == (12,)  # nothing deleted


def test_duplicate_ids_are_refused() -> None:
    site = demo_fleet()[0]
    with pytest.raises(ValueError, match="duplicate device_id"):
        validate_fleet([replace(site, devices=(site.devices[0], site.devices[0]))])
    with pytest.raises(ValueError, match="duplicate site_id"):
        validate_fleet([site, site])


def test_cli_fleet_sync(pg_db: str, tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        "sites:\n  - {site_id: cli-site, latitude_deg: 40, longitude_deg: -3,\n"
        "     inverters: {count: 2, dc_capacity_kw: 50, ac_capacity_kw: 40}, weather_stations: 1}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "HELIOS_DATABASE_URL": pg_db, "HELIOS_SITES_FILE": str(fleet_file)}
    cli = [str(Path(sys.executable).with_name("heliosgrid"))]
    done = subprocess.run([*cli, "fleet", "sync"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 site(s), 3 device(s)" in done.stdout
    with psycopg.connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM devices WHERE site_id = 'cli-site'").fetchone() == (3,)
    bad = tmp_path / "bad.yaml"
    bad.write_text("sites:\n  - {name: no id}\n", encoding="utf-8")
    failed = subprocess.run([*cli, "fleet", "sync", "--file", str(bad)], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    assert failed.returncode == 2 and failed.stderr.startswith("error:") and "Traceback" not in failed.stderr
    assert "site_id" in failed.stderr


def test_a_tracker_site_keeps_its_tracking_through_the_database(pg_db: str, tmp_path: Path) -> None:
    """A fleet file's single-axis tracker (migration 0250) reads back as one for the maintenance runner, the
    forecasts, the API and the BI layer, with its axis, limit and ground coverage ratio; a fixed array stays
    fixed."""
    from heliosgrid.api.routers.catalogue import DEVICES_SQL
    from heliosgrid.forecast.pipeline import load_site
    from heliosgrid.maintenance.frames import load_fleet_from_db
    from heliosgrid.physics.fleet import load_fleet

    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        "sites:\n"
        "  - {site_id: trk, latitude_deg: 35.1, longitude_deg: -106.6,\n"
        "     inverters: {count: 1, dc_capacity_kw: 1200, ac_capacity_kw: 1000, tracking: single_axis,\n"
        "                 max_angle_deg: 52, gcr: 0.4}, weather_stations: 1}\n"
        "  - {site_id: fix, latitude_deg: -33.9, longitude_deg: 151.2,\n"
        "     inverters: {count: 1, dc_capacity_kw: 6, ac_capacity_kw: 5}}\n",
        encoding="utf-8",
    )
    with open_connection(pg_db, autocommit=True) as conn:
        sync_fleet(conn, load_fleet(fleet_file))
        by_id = {d.device_id: d for s in load_fleet_from_db(conn, ["trk", "fix"]) for d in s.devices}
        site, _ = load_site(conn, "trk")
        bi = conn.execute("SELECT tracking, tracker_max_angle_deg, tracker_gcr FROM bi.device WHERE device_id = 'trk-inv01'")
        assert bi.fetchone() == ("single_axis", 52.0, 0.4)  # the Power BI package's device table (migration 0251)
        api_rows = conn.execute(DEVICES_SQL, ("fix", "fix"))
        names = [c.name for c in api_rows.description or []]
        assert dict(zip(names, api_rows.fetchone() or (), strict=True))["tracking"] == "fixed"  # /v1/devices
    tracker = by_id["trk-inv01"]
    assert (tracker.tracking, tracker.surface_tilt_deg, tracker.surface_azimuth_deg, tracker.max_angle_deg,
            tracker.gcr) == ("single_axis", 0.0, 180.0, 52.0, 0.4)
    assert by_id["trk-ws01"].tracking == "single_axis" and site.inverters[0] == tracker
    assert (by_id["fix-inv01"].tracking, by_id["fix-inv01"].surface_azimuth_deg) == ("fixed", 0.0)


@pytest.mark.parametrize(("mount", "message"), [
    ("tracking: dual", "tracking must be one of fixed, single_axis, got 'dual'"),
    ("tracking: single_axis, max_angle_deg: 120", "max_angle_deg must be within (0, 90] degrees, got 120"),
    ("tracking: single_axis, gcr: 1.5", "gcr (ground coverage ratio) must be within (0, 1), got 1.5"),
])
def test_a_fleet_file_with_an_impossible_mount_is_refused(tmp_path: Path, mount: str, message: str) -> None:
    """Refused when the file is read, with the field and the allowed range, not by a database constraint."""
    from heliosgrid.physics.fleet import load_fleet

    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text("sites:\n  - {site_id: x, latitude_deg: 1, longitude_deg: 2,\n"
                          f"     inverters: {{count: 1, dc_capacity_kw: 6, ac_capacity_kw: 5, {mount}}}}}\n",
                          encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_fleet(fleet_file)
    assert message in str(err.value)
