"""Fleet description: sites and devices with the metadata physics needs.

A fleet file is YAML::

    sites:
      - site_id: es-tabernas
        name: Tabernas (Almería)
        latitude_deg: 37.09
        longitude_deg: -2.36
        altitude_m: 500
        timezone: Europe/Madrid
        inverters: {count: 4, dc_capacity_kw: 300, ac_capacity_kw: 250,
                    surface_tilt_deg: 30, surface_azimuth_deg: 180, gamma_pdc_per_c: -0.0037}
        weather_stations: 1

An inverter block without ``surface_azimuth_deg`` faces the equator (180° north of it, 0° south of it).
Single-axis trackers: ``tracking: single_axis`` (tilt/azimuth are then the axis's, default 0°/180°), with
``max_angle_deg`` (default 60) and ``gcr`` (default 0.35).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

DEMO_FLEET_FILE = Path(__file__).with_name("demo_fleet.yaml")
Tracking = Literal["fixed", "single_axis"]
TRACKING_KINDS: tuple[str, ...] = ("fixed", "single_axis")
#: A single-axis tracker's rotation limit either side of flat (degrees) and ground coverage ratio, when
#: not given: typical of utility trackers (±60°, rows at ~2.9 × their width).
DEFAULT_MAX_ANGLE_DEG = 60.0
DEFAULT_GCR = 0.35


@dataclass(frozen=True)
class DeviceSpec:
    """One inverter (with its array's POA and module-temperature sensors) or weather station.

    A fixed array has ``surface_tilt_deg`` / ``surface_azimuth_deg`` (degrees; azimuth east of north). A
    single-axis tracker (``tracking="single_axis"``) has the *axis*'s tilt and azimuth there (0° / 180° for a
    horizontal north–south axis), turns up to ``max_angle_deg`` either side and backtracks at ground coverage
    ratio ``gcr`` (:func:`heliosgrid.physics.model.surface_angles_deg`)."""

    device_id: str
    site_id: str
    kind: Literal["inverter", "weather_station"]
    surface_tilt_deg: float
    surface_azimuth_deg: float
    dc_capacity_kw: float = 0.0
    ac_capacity_kw: float = 0.0
    gamma_pdc_per_c: float = -0.004
    inverter_efficiency: float = 0.96
    tracking: Tracking = "fixed"
    max_angle_deg: float = DEFAULT_MAX_ANGLE_DEG
    gcr: float = DEFAULT_GCR


@dataclass(frozen=True)
class SiteSpec:
    """A plant: location and its devices. Capacities are the sums over inverters (kW)."""

    site_id: str
    name: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    timezone: str
    devices: tuple[DeviceSpec, ...] = field(default_factory=tuple)

    @property
    def inverters(self) -> tuple[DeviceSpec, ...]:
        return tuple(d for d in self.devices if d.kind == "inverter")

    @property
    def dc_capacity_kw(self) -> float:
        return sum(d.dc_capacity_kw for d in self.inverters)

    @property
    def ac_capacity_kw(self) -> float:
        return sum(d.ac_capacity_kw for d in self.inverters)


def equator_facing_azimuth_deg(latitude_deg: float) -> float:
    """Azimuth (degrees east of north) of an array facing the equator: 180 (south) north of the
    equator, 0 (north) south of it. The default orientation of an array whose azimuth is not given."""
    return 180.0 if latitude_deg >= 0 else 0.0


#: A single-axis tracker's axis when not given: horizontal (tilt, degrees) and north–south (azimuth, degrees).
TRACKER_AXIS_TILT_DEG = 0.0
TRACKER_AXIS_AZIMUTH_DEG = 180.0


def default_azimuth_deg(latitude_deg: float, tracking: str) -> float:
    """Azimuth (degrees east of north) when none is given: a tracker's north–south axis, else a fixed array
    facing the equator."""
    return TRACKER_AXIS_AZIMUTH_DEG if tracking == "single_axis" else equator_facing_azimuth_deg(latitude_deg)


def _site_from_dict(raw: dict[str, Any]) -> SiteSpec:
    site_id = str(raw["site_id"])
    inv = raw.get("inverters", {})
    tracking = str(inv.get("tracking", "fixed"))
    if tracking not in TRACKING_KINDS:
        raise ValueError(f"site {site_id}: inverters.tracking must be one of {', '.join(TRACKING_KINDS)}, got {tracking!r}")
    # a tracker's tilt/azimuth are its axis's: horizontal, north–south, unless given
    tilt = float(inv.get("surface_tilt_deg", TRACKER_AXIS_TILT_DEG if tracking == "single_axis" else 30))
    azimuth = float(inv.get("surface_azimuth_deg", default_azimuth_deg(float(raw["latitude_deg"]), tracking)))
    max_angle_deg = float(inv.get("max_angle_deg", DEFAULT_MAX_ANGLE_DEG))
    gcr = float(inv.get("gcr", DEFAULT_GCR))
    if not 0.0 < max_angle_deg <= 90.0:
        raise ValueError(f"site {site_id}: inverters.max_angle_deg must be within (0, 90] degrees, got {max_angle_deg:g}")
    if not 0.0 < gcr < 1.0:
        raise ValueError(f"site {site_id}: inverters.gcr (ground coverage ratio) must be within (0, 1), got {gcr:g}")
    mount = {"tracking": tracking, "max_angle_deg": max_angle_deg, "gcr": gcr}
    devices: list[DeviceSpec] = [
        DeviceSpec(
            device_id=f"{site_id}-inv{i + 1:02d}",
            site_id=site_id,
            kind="inverter",
            surface_tilt_deg=tilt,
            surface_azimuth_deg=azimuth,
            dc_capacity_kw=float(inv["dc_capacity_kw"]),
            ac_capacity_kw=float(inv["ac_capacity_kw"]),
            gamma_pdc_per_c=float(inv.get("gamma_pdc_per_c", -0.004)),
            inverter_efficiency=float(inv.get("inverter_efficiency", 0.96)),
            **mount,  # type: ignore[arg-type]
        )
        for i in range(int(inv.get("count", 0)))
    ]
    devices += [
        DeviceSpec(
            device_id=f"{site_id}-ws{i + 1:02d}",
            site_id=site_id,
            kind="weather_station",
            surface_tilt_deg=tilt,
            surface_azimuth_deg=azimuth,
            **mount,  # type: ignore[arg-type]  # its POA sensor rides the tracker
        )
        for i in range(int(raw.get("weather_stations", 0)))
    ]
    return SiteSpec(
        site_id=site_id,
        name=str(raw.get("name", site_id)),
        latitude_deg=float(raw["latitude_deg"]),
        longitude_deg=float(raw["longitude_deg"]),
        altitude_m=float(raw.get("altitude_m", 0.0)),
        timezone=str(raw.get("timezone", "UTC")),
        devices=tuple(devices),
    )


def load_fleet(path: Path | None = None) -> list[SiteSpec]:
    """Read a fleet YAML file (the demo fleet when ``path`` is None)."""
    data = yaml.safe_load((path or DEMO_FLEET_FILE).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("sites"), list):
        raise ValueError(f"{path}: expected a mapping with a 'sites' list")
    return [_site_from_dict(s) for s in data["sites"]]


def demo_fleet() -> list[SiteSpec]:
    """The built-in demo fleet (three plants in Spain and Colorado)."""
    return load_fleet(None)
