"""An operator's CSV as a real series (``maintenance evaluate --real --csv``): the same readings as the
built-in series it was written from, and a precise error for every unusable input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heliosgrid.maintenance.csv_cleaning import CLIPPED_SHARE
from heliosgrid.maintenance.csv_series import CsvSpec, SeriesInputError, cadence_s, load_csv_series
from heliosgrid.maintenance.realdata import pvdaq50, serf_west

GOLDEN = {"latitude_deg": 39.742, "longitude_deg": -105.178, "tilt_deg": 20.0, "azimuth_deg": 180.0}


@pytest.fixture(scope="module")
def serf_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SERF west written as a logger would: naive local (MST) times, AC in W."""
    r = serf_west().readings
    out = pd.DataFrame({"time": r["ts"].dt.tz_convert("Etc/GMT+7").dt.tz_localize(None), "pac_w": r["ac_power_kw"] * 1000.0,
                        "poa": r["poa_w_m2"], "tmod": r["module_temp_c"], "tamb": r["ambient_temp_c"]})
    path = tmp_path_factory.mktemp("csv") / "plant.csv"
    out.to_csv(path, index=False)
    return path


def _spec(path: Path, **kw: object) -> CsvSpec:
    base: dict[str, object] = {"timestamp_col": "time", "ac_col": "pac_w", "poa_col": "poa", "module_temp_col": "tmod",
                               "ambient_temp_col": "tamb", "power_unit": "W", "tz": "Etc/GMT+7", "altitude_m": 1800.0,
                               **GOLDEN}
    base.update(kw)
    return CsvSpec(path, **base)  # type: ignore[arg-type]


def test_the_csv_gives_back_the_built_in_series(serf_csv: Path) -> None:
    built_in = serf_west()
    mine = load_csv_series(_spec(serf_csv))
    assert mine.cadence_s == built_in.cadence_s == 900
    assert mine.device.ac_capacity_kw == pytest.approx(built_in.device.ac_capacity_kw)
    assert mine.device.dc_capacity_kw == pytest.approx(built_in.device.dc_capacity_kw)
    assert mine.sensors == ("poa", "ac_power", "module_temp", "ambient_temp")
    assert mine.site.timezone == "Etc/GMT+7" and mine.name == "plant"
    a, b = mine.readings, built_in.readings
    assert (a["ts"].to_numpy() == b["ts"].to_numpy()).all()
    for col in ("ac_power_kw", "poa_w_m2", "module_temp_c", "ambient_temp_c"):
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-9, err_msg=col)


@pytest.mark.parametrize(("unit", "scale"), [("MW", 1e-6), ("Wh", 0.25), ("kWh", 0.25e-3)])
def test_power_in_mw_or_energy_per_interval_reads_as_the_same_kw(serf_csv: Path, tmp_path: Path, unit: str,
                                                                 scale: float) -> None:
    """SERF west's W column written as MW, or as Wh / kWh per 15-min row (a portal's energy column): the same
    kW readings, quoted back in the evaluation as mean power."""
    frame = pd.read_csv(serf_csv)
    frame["pac_w"] = frame["pac_w"] * scale
    frame.to_csv(tmp_path / "energy.csv", index=False)
    mine = load_csv_series(_spec(tmp_path / "energy.csv", power_unit=unit)).readings["ac_power_kw"].to_numpy()
    np.testing.assert_allclose(mine, load_csv_series(_spec(serf_csv)).readings["ac_power_kw"].to_numpy(), rtol=1e-9)


def test_given_nameplate_overrides_the_inferred_one(serf_csv: Path) -> None:
    dev = load_csv_series(_spec(serf_csv, dc_kw=6.0, ac_kw=6.2)).device
    assert (dev.dc_capacity_kw, dev.ac_capacity_kw) == (6.0, 6.2)


def test_ghi_is_transposed_and_the_sensor_detectors_are_told_why(tmp_path: Path) -> None:
    """Without a POA sensor: GHI through Erbs + Perez; the series is marked so the sensor faults are
    neither injected nor judged."""
    from heliosgrid.maintenance.real_eval import TRANSPOSED_GHI_REASON, _clean

    idx = pd.date_range("2022-06-01", periods=4 * 96, freq="15min", tz="UTC")
    hour = (idx.hour + idx.minute / 60.0 - 7.0) % 24  # local solar-ish hour at −105°
    ghi = np.clip(1000.0 * np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    frame = pd.DataFrame({"time": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "pac_w": ghi * 5.0, "ghi": ghi})
    frame.to_csv(tmp_path / "sat.csv", index=False)
    series = load_csv_series(_spec(tmp_path / "sat.csv", poa_col=None, ghi_col="ghi", module_temp_col=None,
                                   ambient_temp_col=None))
    assert series.sensors == ("transposed_ghi", "ac_power")
    noon = series.readings.set_index("ts")["poa_w_m2"].between_time("18:30", "19:30")
    assert (noon > 800.0).all()  # a 20° south-facing plane at noon in June
    _, reasons, _ = _clean(series)
    assert reasons["stuck_sensor"] == TRANSPOSED_GHI_REASON


def _merged_csv(path: Path, ghi_every_min: int, dropout: slice | None = None) -> None:
    """4 days of 1-min power (W) next to a GHI given every ``ghi_every_min`` minutes, ``dropout`` rows empty."""
    idx = pd.date_range("2022-06-01", periods=4 * 1440, freq="1min", tz="UTC")
    hour = (idx.hour + idx.minute / 60.0 - 7.0) % 24
    ghi = np.clip(1000.0 * np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    given = np.where(idx.minute % ghi_every_min == 0, ghi, np.nan)
    if dropout is not None:
        given[dropout] = np.nan
    frame = pd.DataFrame({"time": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "pac_w": ghi * 5.0, "ghi": given})
    frame.to_csv(path, index=False)


def _ghi_only(path: Path) -> CsvSpec:
    return _spec(path, poa_col=None, ghi_col="ghi", module_temp_col=None, ambient_temp_col=None)


def test_a_coarser_ghi_is_interpolated_onto_the_power_rows(tmp_path: Path) -> None:
    """A 30-min satellite GHI merged into a 1-min logger export: every row gets its irradiance (left empty,
    a trip's expected energy was half counted; read as 0 W/m², the buckets looked 15 × dimmer)."""
    _merged_csv(tmp_path / "merged.csv", 30)
    series = load_csv_series(_ghi_only(tmp_path / "merged.csv"))
    noon = series.readings.set_index("ts")["poa_w_m2"].between_time("18:30", "19:30")
    assert len(noon) == 4 * 61 and (noon > 800.0).all()
    assert any(w.startswith("'ghi' has values in 3% of the rows with power (sampled coarser than the power): interpolated")
               for w in series.warnings)


def test_a_30_min_ghi_in_a_15_min_export_with_power_gaps_is_interpolated(tmp_path: Path) -> None:
    """PSM3's 30-min GHI merged into a 15-min export has values in half the rows, a little more than half of
    the rows with power when the power has gaps (PVDAQ 50 2013: 51 %). By that share it was taken for a
    sensor with dropouts: every other bucket had no irradiance and the string test was not evaluated on 13
    of 14 injected outages (σ 8–38 %). It is told by its step (30 min against 15) instead."""
    idx = pd.date_range("2022-06-01", periods=4 * 96, freq="15min", tz="UTC")
    hour = (idx.hour + idx.minute / 60.0 - 7.0) % 24
    ghi = np.clip(1000.0 * np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    power = np.where(np.arange(len(idx)) % 50 == 7, np.nan, ghi * 5.0)  # 2 % of the power rows empty
    pd.DataFrame({"time": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "pac_w": power,
                  "ghi": np.where(idx.minute % 30 == 0, ghi, np.nan)}).to_csv(tmp_path / "psm3.csv", index=False)
    series = load_csv_series(_ghi_only(tmp_path / "psm3.csv"))
    noon = series.readings.set_index("ts")["poa_w_m2"].between_time("18:30", "19:30")
    assert len(noon) == 4 * 5 and (noon > 800.0).all()
    assert any("(sampled coarser than the power): interpolated" in w for w in series.warnings)


def test_an_empty_ghi_cell_is_no_irradiance_not_darkness(tmp_path: Path) -> None:
    """A 1-min GHI with a two-hour dropout at noon: those rows have no irradiance (not 0 W/m²), the rest
    is untouched, and a warning counts them."""
    _merged_csv(tmp_path / "dropout.csv", 1, dropout=slice(1440 + 18 * 60, 1440 + 20 * 60))
    series = load_csv_series(_ghi_only(tmp_path / "dropout.csv"))
    poa = series.readings.set_index("ts")["poa_w_m2"]
    assert poa.isna().sum() == 120 and poa["2022-06-02 18:00":"2022-06-02 19:59"].isna().all()
    assert (poa["2022-06-01 18:30":"2022-06-01 19:30"] > 800.0).all()
    assert "120 of 5760 rows (2.1 %) have no value in 'ghi': read as no irradiance data (not 0 W/m²)" in series.warnings
    assert not any("interpolated" in w for w in series.warnings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ac_col": "nope"}, "has no column(s) 'nope'; columns are: 'time', 'pac_w'"),
        ({"ghi_col": "poa"}, "one of --poa-col (a POA sensor) or --ghi-col (GHI, transposed), not both"),
        ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"latitude_deg": 91.0}, "latitude must be within"),
        ({"tilt_deg": -5.0}, "tilt must be within"),
        ({"ac_kw": 0.0}, "--ac-kw must be > 0 kW"),
        ({"power_unit": "GW"}, "power unit must be one of W, kW, MW, Wh, kWh, MWh, got 'GW'"),
        ({"power_unit": "kW", "ac_kw": 5.7}, "the power is probably in W (give --power-unit W)"),
        ({"ac_kw": 5.7e5}, "the power is probably in MW (check --ac-kw/--dc-kw)"),
        ({"longitude_deg": 105.178}, "check the longitude (east positive, west negative) and the time zone"),
        ({"tz": "UTC"}, "7.0 h ahead of the sun"),
        ({"tz": "UTC"}, "if the timestamps are local time, give --tz with the site's zone, e.g. --tz Etc/GMT+7"),
    ],
)
def test_bad_descriptions_get_a_precise_message(serf_csv: Path, change: dict[str, object], message: str) -> None:
    with pytest.raises(SeriesInputError, match=None) as err:
        load_csv_series(_spec(serf_csv, **change))
    assert message in str(err.value)


def test_bad_files_get_a_precise_message(tmp_path: Path, serf_csv: Path) -> None:
    with pytest.raises(SeriesInputError, match="CSV file not found"):
        load_csv_series(_spec(tmp_path / "missing.csv"))
    short = pd.read_csv(serf_csv).head(96)
    short.to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(SeriesInputError, match=r"spans 1\.0 days; the evaluation needs ≥ 3"):
        load_csv_series(_spec(tmp_path / "short.csv"))
    hourly = pd.read_csv(serf_csv).iloc[::4]
    hourly.to_csv(tmp_path / "hourly.csv", index=False)
    with pytest.raises(SeriesInputError, match="reporting interval 3600 s"):
        load_csv_series(_spec(tmp_path / "hourly.csv"))
    dark = pd.read_csv(serf_csv).assign(pac_w=0.0)
    dark.to_csv(tmp_path / "dark.csv", index=False)
    with pytest.raises(SeriesInputError, match="column 'pac_w' never shows positive power"):
        load_csv_series(_spec(tmp_path / "dark.csv"))
    exported = pd.read_csv(serf_csv).assign(pac_w=lambda d: -d["pac_w"])
    exported.to_csv(tmp_path / "exported.csv", index=False)
    with pytest.raises(SeriesInputError, match=r"column 'pac_w': .* opposite sign .* negate the column"):
        load_csv_series(_spec(tmp_path / "exported.csv"))
    standby = pd.read_csv(serf_csv).assign(pac_w=-15.0)  # an inverter that was off all along: its 15 W draw
    standby.to_csv(tmp_path / "standby.csv", index=False)
    with pytest.raises(SeriesInputError, match="no production, only the inverter's standby draw"):
        load_csv_series(_spec(tmp_path / "standby.csv"))
    kelvin = pd.read_csv(serf_csv).assign(tmod=lambda d: d["tmod"] + 273.15)
    kelvin.to_csv(tmp_path / "kelvin.csv", index=False)
    kelvin_message = r"column 'tmod': 100% of its values are outside -50 … 110 °C \(median 2.*check its unit"
    with pytest.raises(SeriesInputError, match=kelvin_message):
        load_csv_series(_spec(tmp_path / "kelvin.csv"))
    kilo = pd.read_csv(serf_csv).assign(poa=lambda d: d["poa"] / 1000.0)
    kilo.to_csv(tmp_path / "kilo.csv", index=False)
    with pytest.raises(SeriesInputError, match=r"column 'poa' never exceeds 1.1132: irradiance must be in W/m²"):
        load_csv_series(_spec(tmp_path / "kilo.csv"))
    text = pd.read_csv(serf_csv).assign(pac_w="n/a")
    text.to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(SeriesInputError, match="column 'pac_w' has no numeric values"):
        load_csv_series(_spec(tmp_path / "text.csv"))


@settings(max_examples=60, deadline=None)
@given(step=st.integers(min_value=1, max_value=4000), n=st.integers(min_value=2, max_value=50),
       jitter=st.lists(st.sampled_from([0, 0, 0, 1]), min_size=50, max_size=50))
def test_cadence_is_the_median_step_and_only_1_s_to_15_min_pass(step: int, n: int, jitter: list[int]) -> None:
    secs = np.cumsum([0] + [step + j for j in jitter[: n - 1]])
    index = pd.DatetimeIndex(pd.to_datetime(secs, unit="s", utc=True))
    median = round(float(np.median(np.diff(secs))))
    if 1 <= median <= 900:
        assert cadence_s(index) == median
    else:
        with pytest.raises(SeriesInputError, match="outside the supported 1 s … 15 min"):
            cadence_s(index)


def test_cli_scores_the_csv_and_rejects_what_it_cannot_use(serf_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from heliosgrid.cli import main

    base = ["maintenance", "evaluate", "--csv", str(serf_csv), "--timestamp-col", "time", "--ac-col", "pac_w",
            "--power-unit", "W", "--poa-col", "poa", "--latitude", "39.742", "--longitude", "-105.178",
            "--tilt", "20", "--azimuth", "180", "--tz", "Etc/GMT+7"]
    assert main([*base, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [s["series"] for s in result["series"]] == ["plant"]
    assert result["series"][0]["orientation"] == {"tilt_deg": 20.0, "azimuth_deg": 180.0}
    assert result["per_fault_type"]["inverter_trip"]["recall"] == 1.0
    assert set(result["false_alerts_per_30_site_days"]) >= {"string_outage", "inverter_trip", "comm_gap"}
    assert "soiling_long_window" not in result  # the wheel's year of PVDAQ 50 is not the user's plant
    assert main([*base[:4], "--ac-col", "pac_w"]) == 2
    assert "--csv needs --timestamp-col, --latitude, --longitude" in capsys.readouterr().err
    assert main([*base[:-6], "--tilt", "20", "--tz", "Etc/GMT+7"]) == 2
    assert "give both --tilt and --azimuth, or neither" in capsys.readouterr().err
    assert main([*base, "--series", "snow-15min"]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_without_any_temperature_snow_is_not_evaluated_and_says_what_that_costs(serf_csv: Path) -> None:
    """SERF west without its temperature columns: its snowed-in 2022-01-06 cannot be told from an
    outage. The run says so instead of going quiet; with an air temperature it is snow again."""
    from heliosgrid.maintenance.capability import NO_TEMPERATURE_SNOW_REASON
    from heliosgrid.maintenance.real_eval import _clean

    bare = load_csv_series(_spec(serf_csv, module_temp_col=None, ambient_temp_col=None))
    alerts, reasons, _ = _clean(bare)
    assert reasons["snow_loss"] == NO_TEMPERATURE_SNOW_REASON
    assert [a.fault_type for a in alerts if a.fault_type != "snow_loss"] == ["inverter_trip"]  # the measured cost
    alerts, reasons, _ = _clean(load_csv_series(_spec(serf_csv, module_temp_col=None)))
    assert "snow_loss" not in reasons and not [a for a in alerts if a.fault_type == "inverter_trip"]


def test_without_tz_the_site_days_follow_the_sun_and_rows_without_power_are_said(serf_csv: Path, tmp_path: Path) -> None:
    """Timestamps written with their UTC offset and no ``--tz``: the daily runs still cut at local
    midnight (``Etc/GMT+7`` at −105°), not at 17:00; rows with an empty power cell are kept as no data
    for the inverter and counted in a warning."""
    from heliosgrid.timestamps import standard_zone

    assert (standard_zone(-105.178), standard_zone(2.35), standard_zone(151.2), standard_zone(-3.0)) == (
        "Etc/GMT+7", "UTC", "Etc/GMT-10", "UTC")
    frame = pd.read_csv(serf_csv)
    frame["time"] = pd.to_datetime(frame["time"]).dt.tz_localize("Etc/GMT+7").map(lambda t: t.isoformat())
    frame.loc[200:223, "pac_w"] = np.nan  # six hours
    frame.to_csv(tmp_path / "offsets.csv", index=False)
    series = load_csv_series(_spec(tmp_path / "offsets.csv", tz=None))
    assert series.site.timezone == "Etc/GMT+7"
    assert series.warnings == ("24 of 480 rows (5.0 %) have no value in 'pac_w': read as no data for the "
                               "inverter (no trip is raised on them)",)
    assert series.readings["ac_power_kw"].isna().sum() == 24


@pytest.fixture(scope="module")
def pvdaq50_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 days of PVDAQ system 50 (May 2013) with its satellite GHI, as UTC rows; the array is 44.6° /
    165.2° by the PVWatts fit over its whole 2011–2013 file (``realdata._pvdaq50_orientation``)."""
    r = pvdaq50("2013-05").readings
    out = pd.DataFrame({"time": r["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "pac_w": r["ac_power_kw"] * 1000.0,
                        "ghi": r["ghi_w_m2"], "poa": r["poa_w_m2"], "tamb": r["ambient_temp_c"]})
    path = tmp_path_factory.mktemp("csv50") / "pvdaq50.csv"
    out.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("irradiance", "tilt_tol", "azimuth_tol"), [("ghi", 12.0, 10.0), ("poa", 15.0, 20.0)])
def test_without_tilt_and_azimuth_the_orientation_is_inferred_and_said(
    pvdaq50_csv: Path, irradiance: str, tilt_tol: float, azimuth_tol: float
) -> None:
    """With GHI: pvanalytics' PVWatts fit on the clear periods of these 30 days; with a POA sensor
    (here the transposed one) the AC power's clear-day shape, on a coarser grid (tilt ≤ 40°). One
    month's fit scatters (PVWatts on single 30-day windows of this plant: 34°–71° of tilt): within
    12°, closer than the 25°/180° assumed without data."""
    cols = {"ghi_col": "ghi", "poa_col": None} if irradiance == "ghi" else {}
    spec = _spec(pvdaq50_csv, tilt_deg=None, azimuth_deg=None, tz=None, module_temp_col=None, latitude_deg=39.7406,
                 longitude_deg=-105.1775, **cols)
    series = load_csv_series(spec)
    device = series.site.devices[0]
    assert abs(device.surface_tilt_deg - 44.6) <= tilt_tol and abs(device.surface_azimuth_deg - 165.2) <= azimuth_tol
    (said,) = [w for w in series.warnings if w.startswith("--tilt/--azimuth not given")]
    assert ("PVWatts" in said) == (irradiance == "ghi") and "inferred" in said


def test_too_short_a_file_to_infer_the_orientation_assumes_one_and_says_so(serf_csv: Path) -> None:
    series = load_csv_series(_spec(serf_csv, tilt_deg=None, azimuth_deg=None))  # 5 days
    assert (series.site.devices[0].surface_tilt_deg, series.site.devices[0].surface_azimuth_deg) == (25.0, 180.0)
    assert any("assumed (too little clear data" in w for w in series.warnings)


def test_logger_fill_values_are_quarantined_as_the_consumer_would(serf_csv: Path, tmp_path: Path) -> None:
    """−99999 W and a POA of −9999 W/m² are outside the reading contract: those rows are dropped (the
    consumer dead-letters such a reading), counted per column, and the rest reads as without them."""
    frame = pd.read_csv(serf_csv)
    frame.loc[[100, 150, 220], "pac_w"] = -99999.0
    frame.loc[[150, 300], "poa"] = -9999.0
    frame.to_csv(tmp_path / "fill.csv", index=False)
    series = load_csv_series(_spec(tmp_path / "fill.csv"))
    assert series.warnings[0] == (
        f"4 of {len(frame)} rows quarantined, as the consumer would (dead-letter): 3 rows with 'pac_w' outside the "
        "reading contract's -1000 … 1e+08 W (first: -99999); 2 rows with 'poa' outside the reading contract's "
        "-20 … 1800 W/m² (first: -9999)")
    assert len(series.readings) == len(frame) - 4
    clean = load_csv_series(_spec(serf_csv)).readings
    kept = clean[~clean.index.isin([100, 150, 220, 300])].reset_index(drop=True)
    np.testing.assert_allclose(series.readings["ac_power_kw"].to_numpy(), kept["ac_power_kw"].to_numpy())


def test_a_site_meters_night_draw_is_read_as_zero_not_refused_as_a_unit_error(serf_csv: Path, tmp_path: Path) -> None:
    """A plant meter imports at night (captest's example plant: −8.9 kW at 5.9 MW on every dark row): more than
    half the rows below the contract's −1 kW made the file look like a unit error. Dark negatives within 5 % of
    the peak are the plant's own draw: read as 0 kW, said in a warning; a fill value still is quarantined."""
    frame = pd.read_csv(serf_csv)
    peak_w = float(frame["pac_w"].max())
    dark = frame["poa"] < 1.0
    frame.loc[dark, "pac_w"] = -0.03 * peak_w  # 3 % of the peak, far below −1 kW once scaled as a big plant's
    frame["pac_w"] *= 1000.0
    frame.loc[frame.index[dark][5], "pac_w"] = -9_999_999.0  # a fill value in the dark: not a draw
    frame.to_csv(tmp_path / "meter.csv", index=False)
    assert dark.mean() > 0.5
    series = load_csv_series(_spec(tmp_path / "meter.csv"))
    assert series.warnings[0] == (f"{int(dark.sum()) - 1} rows with negative 'pac_w' while dark (the plant's own draw, "
                                  f"down to {-0.03 * peak_w * 1000.0:g} W): read as 0")
    assert "1 of" in series.warnings[1] and "(first: -1e+07)" in series.warnings[1]
    assert (series.readings["ac_power_kw"] >= 0).all() and len(series.readings) == len(frame) - 1


def test_power_labelled_at_the_interval_end_is_moved_back_to_its_irradiance(serf_csv: Path, tmp_path: Path) -> None:
    """A logger that stamps its 15-min means at the interval's end: the power one interval late against the
    POA sensor. Found from the power/POA scatter (7.2 % aligned, 8.9 % as labelled) and moved back; the
    file as written (the existing test above) is left alone."""
    frame = pd.read_csv(serf_csv)
    frame["pac_w"] = frame["pac_w"].shift(1)
    frame["tmod"] = frame["tmod"].shift(1)
    frame.to_csv(tmp_path / "end.csv", index=False)
    series = load_csv_series(_spec(tmp_path / "end.csv"))
    (said,) = [w for w in series.warnings if "labelled" in w]
    assert said.startswith("AC power labelled 15 min late against the plane-of-array irradiance")
    built_in = serf_west().readings
    for col in ("ac_power_kw", "module_temp_c"):
        np.testing.assert_allclose(series.readings[col].to_numpy()[1:-1], built_in[col].to_numpy()[1:-1], rtol=1e-9)


def test_a_temperature_clipped_at_zero_is_said_and_kept(serf_csv: Path, tmp_path: Path) -> None:
    """January at Golden (SERF west) has frost: a logger or satellite export that writes every frost hour as
    0 °C (PVDAQ 50's PSM3 file in the pvanalytics wheel does) is named per column, and the values are kept."""
    frame = pd.read_csv(serf_csv)
    assert (frame["tamb"] < 0).mean() > CLIPPED_SHARE and (frame["tmod"] < 0).mean() > CLIPPED_SHARE
    assert not [w for w in load_csv_series(_spec(serf_csv)).warnings if "clipped" in w]
    frame["tamb"] = frame["tamb"].clip(lower=0.0)
    frame["tmod"] = frame["tmod"].clip(lower=0.0)
    frame.to_csv(tmp_path / "clipped.csv", index=False)
    series = load_csv_series(_spec(tmp_path / "clipped.csv"))
    said = [w for w in series.warnings if "clipped at 0 °C" in w]
    assert [w.split(" ")[0] for w in said] == ["'tmod'", "'tamb'"]
    share = (frame["tamb"] == 0.0).mean()
    assert f"exactly 0.0 in {share:.0%} of its values" in said[1]
    assert series.readings["ambient_temp_c"].min() == 0.0


@pytest.mark.parametrize("irradiance", ["ghi", "none"])
def test_a_north_facing_array_south_of_the_equator_is_inferred_facing_north(tmp_path: Path, irradiance: str) -> None:
    """Real weather (PVDAQ 50, May 2013) under the sun of a north-facing 25° array near Sydney
    (:mod:`tests.transplant`). With GHI, pvanalytics' PVWatts fit starts at 180° and north lies at both of its
    bounds (0°, 360°); without, the shape fit searched 90–270° only and settled on the wrong side."""
    from heliosgrid.maintenance.csv_orientation import infer_csv_orientation
    from tests.transplant import SOUTH_AZIMUTH_DEG, SOUTH_TILT_DEG, SOUTH_WHERE, southern_readings

    r = southern_readings()
    if irradiance == "ghi":
        path = tmp_path / "south.csv"
        pd.DataFrame({"time": r["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "pac_w": r["ac_power_kw"] * 1000.0,
                      "ghi": r["ghi_w_m2"], "tamb": r["ambient_temp_c"]}).to_csv(path, index=False)
        spec = _spec(path, tilt_deg=None, azimuth_deg=None, tz="Australia/Sydney", poa_col=None, ghi_col="ghi",
                     module_temp_col=None, latitude_deg=SOUTH_WHERE[0], longitude_deg=SOUTH_WHERE[1], altitude_m=40.0)
        device = load_csv_series(spec).site.devices[0]
        tilt, azimuth = device.surface_tilt_deg, device.surface_azimuth_deg
        assert abs(tilt - SOUTH_TILT_DEG) <= 12.0
    else:
        frame = r.set_index("ts")[["ac_power_kw"]]
        (tilt, azimuth, _), said = infer_csv_orientation(frame, None, SOUTH_WHERE, 900)
        assert "clear-day shape" in said
    assert abs((azimuth - SOUTH_AZIMUTH_DEG + 180.0) % 360.0 - 180.0) <= 30.0


def test_a_tracker_is_inferred_from_its_flat_day_or_taken_as_given(tmp_path: Path) -> None:
    """PVDAQ 50's real clear-sky index under a single-axis tracker's clear sky, with the site's own satellite
    GHI (:func:`tests.transplant.tracker_readings`). The PVWatts fit knows fixed arrays only; the shape fit
    tells the tracker, and the GHI is transposed onto the turning plane. ``--tracking single-axis`` is taken
    as given, with a horizontal north–south axis."""
    from tests.transplant import tracker_readings

    r, _ = tracker_readings()
    path = tmp_path / "tracker.csv"
    pd.DataFrame({"time": r["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "pac_w": r["ac_power_kw"] * 1000.0,
                  "ghi": r["ghi_w_m2"], "tamb": r["ambient_temp_c"]}).to_csv(path, index=False)
    base = {"tilt_deg": None, "azimuth_deg": None, "tz": None, "poa_col": None, "ghi_col": "ghi", "module_temp_col": None,
            "latitude_deg": 39.7406, "longitude_deg": -105.1775}
    inferred = load_csv_series(_spec(path, **base))
    assert inferred.site.devices[0].tracking == "single_axis"
    (said,) = [w for w in inferred.warnings if w.startswith("--tilt/--azimuth not given")]
    assert "a single-axis tracker (axis tilt 0°, azimuth 180°)" in said
    given = load_csv_series(_spec(path, **base, tracking="single_axis"))
    device = given.site.devices[0]
    assert (device.tracking, device.surface_tilt_deg, device.surface_azimuth_deg) == ("single_axis", 0.0, 180.0)
    assert not any(w.startswith("--tilt/--azimuth not given") for w in given.warnings)
    noon = given.readings.set_index("ts")["poa_w_m2"].between_time("18:00", "20:00")
    morning = given.readings.set_index("ts")["poa_w_m2"].between_time("14:00", "15:00")
    assert morning.quantile(0.95) > 0.8 * noon.quantile(0.95)  # a tracker's plane faces the morning sun
    with pytest.raises(SeriesInputError, match="tracking must be 'single_axis' or not given, got 'dual'"):
        load_csv_series(_spec(path, **base, tracking="dual"))
