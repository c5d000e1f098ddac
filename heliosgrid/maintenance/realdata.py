"""Real plant series shipped in installed wheels, as contract readings for the detectors.

Nothing is downloaded: the files come from ``pvanalytics/data`` (NREL measurements). Each series
becomes one site with one inverter (one site per file), with the contract's reading columns
(``device_id, site_id, ts, poa_w_m2, ghi_w_m2, ambient_temp_c, module_temp_c, dc_power_kw,
ac_power_kw, inverter_status``; power in kW, ``ts`` tz-aware UTC) at the file's own cadence.

Metadata that the files do not carry is inferred from the data and documented per series:

* capacities: AC nameplate = the series' maximum AC power; DC = the median of
  AC / (POA / 1000 W/m²) / 0.96 over buckets with POA > 300 W/m² (the calibration factor of the
  detectors absorbs the rest);
* orientation: from the file's angle-of-incidence column (snow system: tilt 35°, azimuth 225°,
  fitted to its ``aoi`` column), from pvanalytics ``infer_orientation_fit_pvwatts`` on clear
  periods (SERF east, PSM3 clear-sky irradiance), or the building's published tilt (SERF west,
  RSF II: measured POA, orientation only sets the clear-sky daylight mask).

Series: ``serf-west-15min`` (Golden CO, Jan 2022, 5 days: AC, DC, POA, module and ambient
temperature), ``serf-west-1min`` (the same interpolated to 1 minute, as the issue's replay
did), ``rsf2-15min`` (NREL RSF II inverter 2, Jan 2022, 5 days), ``snow-15min`` (a
Massachusetts system with snow on the modules, Jan 2022, 6 days), ``serf-east-15min-psm3``
(SERF east AC, Jul–Oct 2016, 104 days, POA transposed from the satellite PSM3 GHI: no
irradiance sensor, so the sensor detectors are "not evaluated" on it), ``pvdaq50-*-psm3`` (PVDAQ
system 50 AC with satellite POA, four 30-day windows), ``system15-*-poa`` (PVDAQ system 15's
measured POA sensor alone, four 60-day windows: a POA-only station on which only the sensor
detectors judge).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pvlib

from heliosgrid.physics import DeviceSpec, SiteSpec
from heliosgrid.physics.fleet import Tracking

GOLDEN = (39.742, -105.178, 1800.0)
MST = "Etc/GMT+7"  # the NREL files' clock: UTC−07:00 all year
MEASURES = ("poa_w_m2", "ghi_w_m2", "ambient_temp_c", "module_temp_c", "dc_power_kw", "ac_power_kw")


@dataclass
class RealSeries:
    """One real series: its site (one inverter), readings, cadence (s) and which sensors it has."""

    name: str
    site: SiteSpec
    readings: pd.DataFrame
    cadence_s: int
    sensors: tuple[str, ...]
    notes: str = ""
    snow_days: tuple[str, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = ()
    """What the loader corrected and the operator should know (e.g. a logger clock off by an hour)."""

    @property
    def device(self) -> DeviceSpec:
        return self.site.inverters[0]

    @property
    def days(self) -> float:
        """Site-days of data: the span of the readings less the file's gaps of a day or more (a
        logger down for three weeks adds no site-days to a false-alert rate)."""
        ts = self.readings["ts"].drop_duplicates().sort_values()
        steps = ts.diff().dropna()
        long = steps[steps >= pd.Timedelta(days=1)]
        missing = (long - pd.Timedelta(seconds=self.cadence_s)).sum() if len(long) else pd.Timedelta(0)
        span = ts.iloc[-1] - ts.iloc[0] - missing
        return round(span.total_seconds() / 86400.0, 2)


def _read_csv(name: str, **kw: object) -> pd.DataFrame:
    with (importlib.resources.files("pvanalytics") / "data" / name).open("rb") as fh:
        return pd.read_csv(fh, **kw)  # type: ignore[call-overload, no-any-return]


CLEAR_SKY_DC_QUANTILE = 0.9
"""Against the clear-sky POA (no irradiance in the file) the DC estimate is this quantile of the bright
buckets' AC/POA, not their median: cloudy buckets sit below the clear ones, which the top decile holds."""


def infer_capacities(ac_kw: pd.Series, poa_w_m2: pd.Series, *, clear_sky: bool = False) -> tuple[float, float]:
    """(DC kW, AC kW) inferred from the data (see the module docstring); ``clear_sky``: ``poa_w_m2`` is the
    clear-sky POA, not a measurement (:data:`CLEAR_SKY_DC_QUANTILE`)."""
    ac_cap = float(ac_kw.max())
    bright = (poa_w_m2 > 300.0) & (ac_kw > 0)
    q = CLEAR_SKY_DC_QUANTILE if clear_sky else 0.5
    dc = float((ac_kw[bright] / (poa_w_m2[bright] / 1000.0) / 0.96).quantile(q)) if bright.sum() >= 8 else ac_cap * 1.1
    return round(max(dc, ac_cap), 3), round(ac_cap, 3)


def single_inverter_site(
    name: str, where: tuple[float, float, float], tz: str, tilt: float, azimuth: float, dc: float, ac: float,
    source: str = "pvanalytics wheel", tracking: Tracking = "fixed",
) -> SiteSpec:
    """A site ``name`` with one inverter ``<name>-inv01``: ``where`` = (latitude °N, longitude °E,
    altitude m), ``tz`` its IANA zone, array ``tilt``/``azimuth`` in degrees (azimuth east of north),
    DC and AC nameplate in kW; γ = −0.4 %/°C and inverter efficiency 0.96 (PVWatts defaults); a
    single-axis tracker (``tracking``) has its axis's tilt and azimuth there."""
    dev = DeviceSpec(f"{name}-inv01", name, "inverter", tilt, azimuth, dc, ac, -0.004, 0.96, tracking=tracking)
    return SiteSpec(name, f"{name} (real series, {source})", where[0], where[1], where[2], tz, (dev,))


def contract_readings(site: SiteSpec, ts: pd.DatetimeIndex, values: dict[str, pd.Series]) -> pd.DataFrame:
    """The contract's reading rows of the site's one inverter: ``values`` (keys from :data:`MEASURES`,
    positionally aligned with ``ts``; absent ones NaN), AC clipped at 0 kW, status from AC > 0."""
    out = pd.DataFrame({"device_id": site.inverters[0].device_id, "site_id": site.site_id, "ts": ts.tz_convert("UTC")})
    for name in MEASURES:
        raw = values.get(name)
        out[name] = np.asarray(raw, dtype="float64") if raw is not None else np.nan
    out["ac_power_kw"] = out["ac_power_kw"].clip(lower=0.0)  # night-time tare draw is not production
    out["inverter_status"] = np.where(out["ac_power_kw"] > 0, "ok", "standby")
    return out.dropna(subset=["ts"]).sort_values("ts").reset_index(drop=True)


def serf_west(cadence_s: int = 900) -> RealSeries:
    """SERF west, 15-min file; ``cadence_s=60`` interpolates it to 1 minute (time-weighted)."""
    raw = _read_csv("serf_west_15min.csv", index_col=0, parse_dates=True)
    raw.index = pd.DatetimeIndex(raw.index).tz_localize(MST)
    cols = {
        "poa_w_m2": raw["poa_irradiance__771"],
        "ambient_temp_c": raw["ambient_temp__780"],
        "module_temp_c": raw[["module_temp_1__781", "module_temp_2__782", "module_temp_3__783"]].mean(axis=1),
        "dc_power_kw": raw["dc_power__772"] / 1000.0,
        "ac_power_kw": (raw["ac_power__773"] / 1000.0).clip(lower=0.0),
    }
    frame = pd.DataFrame(cols)
    if cadence_s != 900:
        fine = pd.date_range(frame.index[0], frame.index[-1], freq=f"{cadence_s}s")
        frame = frame.reindex(frame.index.union(fine)).interpolate(method="time", limit=15 * 60 // cadence_s).reindex(fine)
    dc, ac = infer_capacities(frame["ac_power_kw"], frame["poa_w_m2"])
    name = "serf-west-15min" if cadence_s == 900 else f"serf-west-{cadence_s // 60}min"
    site = single_inverter_site(name, GOLDEN, MST, 20.0, 180.0, dc, ac)
    notes = "measured POA, module and ambient temperature" + ("" if cadence_s == 900 else "; interpolated from 15 min")
    sensors = ("poa", "module_temp", "ambient_temp", "ac_power", "dc_power")
    readings = contract_readings(site, pd.DatetimeIndex(frame.index), dict(frame.items()))
    return RealSeries(name, site, readings, cadence_s, sensors, notes)


def rsf2() -> RealSeries:
    """NREL RSF II, inverter 2 (15 min, Jan 2022): AC, POA reference cell, module and ambient temperature."""
    raw = _read_csv("nrel_RSF_II.csv", index_col=0)
    raw.index = pd.to_datetime(raw.index, format="%m/%d/%Y %H:%M").tz_localize(MST)
    ac_kw = raw["inv2_ac_power_w__1047"] / 1000.0
    dc, ac = infer_capacities(ac_kw, raw["poa_irradiance_refcell__1054"])
    site = single_inverter_site("rsf2-15min", GOLDEN, MST, 10.0, 180.0, dc, ac)
    values = {
        "poa_w_m2": raw["poa_irradiance_refcell__1054"],
        "ambient_temp_c": raw["ambient_temp__1053"],
        "module_temp_c": raw["module_temp__1056"],
        "dc_power_kw": raw["inv2_dc_power__1135"] / 1000.0,
        "ac_power_kw": ac_kw,
    }
    sensors = ("poa", "module_temp", "ambient_temp", "ac_power", "dc_power")
    return RealSeries(
        "rsf2-15min", site, contract_readings(site, pd.DatetimeIndex(raw.index), values), 900, sensors, "measured POA; rooftop"
    )


def snow() -> RealSeries:
    """The pvanalytics snow example system (15 min, Jan 2022, Massachusetts): snow on the modules."""
    raw = _read_csv("snow_data.csv")
    raw.index = pd.to_datetime(raw["Timestamp"], format="%m/%d/%Y %H:%M").dt.tz_localize("Etc/GMT+5")
    ac_kw = raw["INV1 AC Power [kW]"]
    dc, ac = infer_capacities(ac_kw, raw["POA [W/m²]"])
    # Location and orientation fitted to the file's solar-position and angle-of-incidence columns.
    site = single_inverter_site("snow-15min", (42.581, -72.517, 100.0), "Etc/GMT+5", 35.0, 225.0, dc, ac)
    values = {
        "poa_w_m2": raw["POA [W/m²]"],
        "ambient_temp_c": raw["Ambient Temp [C]"],
        "module_temp_c": raw["Module Temp [C]"],
        "ac_power_kw": ac_kw,
    }
    sensors = ("poa", "module_temp", "ambient_temp", "ac_power")
    return RealSeries(
        "snow-15min", site, contract_readings(site, pd.DatetimeIndex(raw.index), values), 900, sensors, "snow on the modules"
    )


@functools.lru_cache(maxsize=1)
def _serf_east_raw() -> pd.DataFrame:
    ac = _read_csv("serf_east_15min_ac_power.csv", index_col=0)
    psm3 = _read_csv("serf_east_psm3_data.csv", index_col=0)
    frame = pd.DataFrame(
        {"ac_power_kw": (ac["ac_power"] / 1000.0).clip(lower=0.0).to_numpy()}, index=pd.to_datetime(ac.index, utc=True)
    )
    psm3.index = pd.to_datetime(psm3.index, utc=True)
    return frame.join(psm3[["ghi", "ghi_clear", "dni_clear", "dhi_clear", "temp_air"]], how="inner")


def bucket_solar_position(
    index: pd.DatetimeIndex, where: tuple[float, float, float], interval_s: int = 900
) -> pd.DataFrame:
    """Sun (pvlib solar position) at the centre of each ``interval_s``-second interval, labelled by the
    interval start; ``where`` = (latitude °N, longitude °E, altitude m)."""
    mid = index + pd.Timedelta(seconds=interval_s / 2)
    return pvlib.solarposition.get_solarposition(mid, where[0], where[1], where[2]).set_axis(index)


def _satellite_series(
    name: str, raw: pd.DataFrame, where: tuple[float, float, float], what: str, orientation: tuple[float, float] | None = None
) -> RealSeries:
    """AC power (``raw``: ``ac_power_kw`` and the PSM3 columns, 15 min, UTC) with POA transposed
    from the satellite GHI (Erbs + Perez) at ``orientation`` (tilt, azimuth °; default: fitted to ``raw``)."""
    solpos = bucket_solar_position(pd.DatetimeIndex(raw.index), where)
    tilt, azimuth = orientation or _fit_orientation(raw, solpos)
    poa = poa_from_ghi(raw["ghi"], solpos, tilt, azimuth)
    dc, ac = infer_capacities(raw["ac_power_kw"], poa)
    site = single_inverter_site(name, where, MST, tilt, azimuth, dc, ac)
    values = {"poa_w_m2": poa, "ghi_w_m2": raw["ghi"], "ambient_temp_c": raw["temp_air"], "ac_power_kw": raw["ac_power_kw"]}
    fitted = "fitted to the whole file" if orientation else "fitted"
    notes = (
        f"{what}; POA transposed from satellite GHI (no irradiance sensor); "
        f"orientation {fitted}: tilt {tilt:.0f}°, azimuth {azimuth:.0f}°"
    )
    readings = contract_readings(site, pd.DatetimeIndex(raw.index), values)
    return RealSeries(name, site, readings, 900, ("satellite_poa", "ambient_temp", "ac_power"), notes)


def clear_sky_ghi(solpos: pd.DataFrame, where: tuple[float, float, float], interval_s: int = 900) -> pd.Series:
    """Clear-sky GHI (W/m², Ineichen with pvlib's climatological Linke turbidity) at the centre of each
    ``interval_s``-second interval of ``solpos`` (a :func:`bucket_solar_position` frame, labelled by the
    interval start); ``where`` = (latitude °N, longitude °E, altitude m). The irradiance reference of a
    file that has no irradiance column."""
    mid = pd.DatetimeIndex(solpos.index) + pd.Timedelta(seconds=interval_s / 2)
    loc = pvlib.location.Location(where[0], where[1], altitude=where[2])
    sky = loc.get_clearsky(mid, model="ineichen", solar_position=solpos.set_axis(mid))
    return pd.Series(sky["ghi"].to_numpy(dtype="float64"), index=solpos.index)


def poa_from_ghi(
    ghi_w_m2: pd.Series, solpos: pd.DataFrame, tilt_deg: float | pd.Series, azimuth_deg: float | pd.Series
) -> pd.Series:
    """POA irradiance (W/m²) transposed from GHI (W/m², same index as ``solpos``, a
    :func:`bucket_solar_position` frame): Erbs decomposition, Perez transposition at the plane tilted
    ``tilt_deg`` and facing ``azimuth_deg`` (degrees east of north; per row for a tracker). 0 where the transposition has no
    value (sun below the horizon); NaN where the GHI is missing (no data, never 0 W/m²: an empty GHI
    cell read as 0 made a 1-min file whose GHI came every 30 min look five times dimmer than its power)."""
    erbs = pvlib.irradiance.erbs(ghi_w_m2, solpos["zenith"], ghi_w_m2.index)
    dni_extra = pvlib.irradiance.get_extra_radiation(ghi_w_m2.index)
    return pvlib.irradiance.get_total_irradiance(
        tilt_deg,
        azimuth_deg,
        solpos["apparent_zenith"],
        solpos["azimuth"],
        erbs["dni"],
        ghi_w_m2,
        erbs["dhi"],
        dni_extra=dni_extra,
        model="perez",
    )["poa_global"].fillna(0.0).where(ghi_w_m2.notna())


def serf_east_psm3() -> RealSeries:
    """SERF east AC (15 min, 104 days) with POA transposed from the PSM3 satellite GHI (Erbs + Perez)."""
    return _satellite_series("serf-east-15min-psm3", _serf_east_raw(), GOLDEN, "SERF east, Jul–Oct 2016")


def _parquet(name: str) -> pd.DataFrame:
    with (importlib.resources.files("pvanalytics") / "data" / name).open("rb") as fh:
        return pd.read_parquet(fh)


@functools.lru_cache(maxsize=1)
def _pvdaq50_raw() -> pd.DataFrame:
    """PVDAQ system 50 inverter 2 AC (15 min, 2011-04 … 2013-12) joined with its PSM3 file (30 min,
    interpolated to 15 min). The logger's wall clock follows daylight saving time although the file
    says −07:00 (found by the forecast hygiene's solar-noon check): it is read as America/Denver."""
    ac = _parquet("system_50_ac_power_2_full_DST.parquet")
    wall = pd.DatetimeIndex(ac["measured_on"]).tz_localize(None)
    local = wall.tz_localize("America/Denver", ambiguous="NaT", nonexistent="NaT")
    frame = pd.DataFrame({"ac_power_kw": (ac["ac_power_2"].to_numpy(dtype=float) / 1000.0).clip(min=0.0)}, index=local)
    frame = frame[frame.index.notna()]
    frame.index = frame.index.tz_convert("UTC")
    frame = frame[~frame.index.duplicated()]
    psm3 = _parquet("system_50_ac_power_2_full_DST_psm3.parquet").set_index("index")
    psm3.index = pd.DatetimeIndex(psm3.index).tz_convert("UTC")
    cols = ["ghi", "ghi_clear", "dni_clear", "dhi_clear", "temp_air"]
    # PSM3 values are instantaneous at their label: a 15-min bucket gets the value interpolated to
    # its centre (label + 7.5 min).
    centres = frame.index + pd.Timedelta(minutes=7.5)
    grid = psm3[cols].reindex(psm3.index.union(centres)).interpolate(method="time", limit=2)
    psm3_15 = grid.reindex(centres).set_axis(frame.index)
    return frame.join(psm3_15, how="inner").dropna(subset=["ac_power_kw"])


PVDAQ50_WINDOWS = {"2011-07": "2011-07-01", "2012-02": "2012-02-01", "2012-10": "2012-10-01", "2013-05": "2013-05-01"}
"""30-day windows of PVDAQ system 50 (summer, winter with snow, autumn, spring): clean false-alert
rates on more site-days and faults injected into more seasons, within the run-time budget."""


PVDAQ50_WHERE = (39.7406, -105.1775, 1800.0)


@functools.lru_cache(maxsize=1)
def _pvdaq50_orientation() -> tuple[float, float]:
    """Tilt and azimuth (°) fitted once over the whole 2011–2013 file: a plant has one orientation
    (fits on single 30-day windows scatter from 34° to 71° of tilt)."""
    raw = _pvdaq50_raw()
    return _fit_orientation(raw, bucket_solar_position(pd.DatetimeIndex(raw.index), PVDAQ50_WHERE))


def pvdaq50(window: str) -> RealSeries:
    """PVDAQ system 50 (Golden CO) AC power, 30 days from :data:`PVDAQ50_WINDOWS`, satellite POA."""
    start = pd.Timestamp(PVDAQ50_WINDOWS[window], tz=MST)
    raw = _pvdaq50_raw()
    part = raw[(raw.index >= start) & (raw.index < start + pd.Timedelta(days=30))]
    what = f"PVDAQ system 50, 30 days from {window}"
    return _satellite_series(f"pvdaq50-{window}-psm3", part, PVDAQ50_WHERE, what, _pvdaq50_orientation())


def _fit_orientation(raw: pd.DataFrame, solpos: pd.DataFrame) -> tuple[float, float]:
    """Tilt and azimuth (degrees) from pvanalytics' PVWatts fit over clear periods (GHI ≈ clear-sky GHI)."""
    from pvanalytics.system import infer_orientation_fit_pvwatts

    clear = (raw["ghi_clear"] > 200) & ((raw["ghi"] / raw["ghi_clear"] - 1.0).abs() < 0.03) & (raw["ac_power_kw"] > 0.1)
    part = raw[clear]
    tilt, azimuth, *_ = infer_orientation_fit_pvwatts(
        part["ac_power_kw"],
        part["ghi_clear"],
        part["dhi_clear"],
        part["dni_clear"],
        solpos.loc[part.index, "zenith"],
        solpos.loc[part.index, "azimuth"],
        temperature=part["temp_air"],
    )
    return round(float(tilt), 1), round(float(azimuth), 1)


SYSTEM15_WINDOWS = {"2019-04": "2019-04-01", "2020-07": "2020-07-01", "2021-10": "2021-10-01", "2022-01": "2022-01-01"}
"""60-day windows of the PVDAQ system 15 POA sensor (spring, summer, autumn, winter)."""
SYSTEM15_DAYS = 60


@functools.lru_cache(maxsize=1)
def _system15_raw() -> pd.Series:
    """PVDAQ system 15 POA irradiance (W/m², 15 min, 2019-02 … 2023-10, UTC−07:00 clock)."""
    raw = _parquet("system_15_poa_irradiance.parquet")
    poa = pd.Series(raw["poa_irradiance__484"].to_numpy(dtype=float), index=pd.DatetimeIndex(raw["measured_on"]))
    poa.index = poa.index.tz_convert("UTC")
    return poa[~poa.index.duplicated()]


def system15_poa(window: str) -> RealSeries:
    """A POA-only station: PVDAQ system 15's irradiance sensor, :data:`SYSTEM15_DAYS` days from
    :data:`SYSTEM15_WINDOWS`. The file has no power, temperature or coordinates: the location is
    taken as NREL Golden CO (the file's UTC−07:00 clock; an assumption) and the orientation
    (tilt 20°, azimuth 180°) was fitted to the sensor's clear-day shape (grid search, clear-sky
    POA). Readings above 1500 W/m² (the file has spikes up to 5600) are dropped as outliers.
    Only the sensor detectors (stuck, drift) have anything to judge."""
    start = pd.Timestamp(SYSTEM15_WINDOWS[window], tz=MST)
    raw = _system15_raw()
    part = raw[(raw.index >= start) & (raw.index < start + pd.Timedelta(days=SYSTEM15_DAYS))]
    part = part[part.notna() & (part <= 1500.0)]
    name = f"system15-{window}-poa"
    dev = DeviceSpec(f"{name}-inv01", name, "inverter", 20.0, 180.0, 1.0, 1.0, -0.004, 0.96)
    site = SiteSpec(name, f"{name} (real POA sensor, pvanalytics wheel)", *GOLDEN, MST, (dev,))
    readings = contract_readings(site, pd.DatetimeIndex(part.index), {"poa_w_m2": part})
    readings["ac_power_kw"] = np.nan
    readings["inverter_status"] = "ok"
    notes = "measured POA only (no power, no temperature); location assumed Golden CO, orientation fitted"
    return RealSeries(name, site, readings, 900, ("poa",), notes)


CORPUS: dict[str, Callable[[], RealSeries]] = {
    "serf-west-15min": serf_west,
    "serf-west-1min": lambda: serf_west(60),
    "rsf2-15min": rsf2,
    "snow-15min": snow,
    "serf-east-15min-psm3": serf_east_psm3,
    **{f"pvdaq50-{w}-psm3": functools.partial(pvdaq50, w) for w in PVDAQ50_WINDOWS},
    **{f"system15-{w}-poa": functools.partial(system15_poa, w) for w in SYSTEM15_WINDOWS},
}


def load_corpus(names: tuple[str, ...] | None = None) -> list[RealSeries]:
    """The real series (all of :data:`CORPUS` by default)."""
    return [CORPUS[n]() for n in (names or tuple(CORPUS))]


def pvdaq50_year(year: int = 2012) -> RealSeries:
    """PVDAQ system 50 AC power with satellite POA over one calendar year (the long-window
    soiling evaluation: a ramp of 3 weeks needs weeks of the device's own baseline before it)."""
    start = pd.Timestamp(f"{year}-01-01", tz=MST)
    raw = _pvdaq50_raw()
    part = raw[(raw.index >= start) & (raw.index < start + pd.Timedelta(days=366 if year % 4 == 0 else 365))]
    what = f"PVDAQ system 50, year {year}"
    return _satellite_series(f"pvdaq50-{year}-psm3", part, PVDAQ50_WHERE, what, _pvdaq50_orientation())
