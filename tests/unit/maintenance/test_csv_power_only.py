"""A CSV with only a timestamp and the AC power (the commonest export: an inverter portal, PVOutput) is
scored against the clear sky: loss detectors that can judge do, the sensor detectors say why they cannot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heliosgrid.maintenance.csv_series import CsvSpec, load_csv_series
from heliosgrid.maintenance.realdata import serf_west


@pytest.fixture(scope="module")
def power_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SERF west's AC power (kW) and air temperature, UTC, and nothing else."""
    r = serf_west().readings
    path = tmp_path_factory.mktemp("power") / "portal.csv"
    pd.DataFrame({"time": r["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "kw": r["ac_power_kw"],
                  "tamb": r["ambient_temp_c"]}).to_csv(path, index=False)
    return path


def _spec(path: Path, **kw: object) -> CsvSpec:
    base: dict[str, object] = {"timestamp_col": "time", "ac_col": "kw", "latitude_deg": 39.742, "longitude_deg": -105.178,
                               "tilt_deg": 20.0, "azimuth_deg": 180.0, "ambient_temp_col": "tamb", "altitude_m": 1800.0}
    base.update(kw)
    return CsvSpec(path, **base)  # type: ignore[arg-type]


def test_without_irradiance_the_clear_sky_is_the_reference_and_said(power_csv: Path) -> None:
    from heliosgrid.maintenance.capability import CLEAR_SKY_ONLY_REASON
    from heliosgrid.maintenance.real_eval import CLEAR_SKY_REASON, _clean

    series = load_csv_series(_spec(power_csv))
    assert series.sensors == ("clear_sky_poa", "ac_power", "ambient_temp")
    assert "no irradiance in the file: the detectors judge against the clear sky (Ineichen)" in series.notes
    assert series.readings["poa_w_m2"].isna().all()  # nothing invented: the runner takes the clear sky itself
    alerts, reasons, _ = _clean(series)
    assert reasons["stuck_sensor"] == reasons["irradiance_drift"] == CLEAR_SKY_REASON
    assert reasons["string_outage"] == reasons["soiling"] == CLEAR_SKY_ONLY_REASON
    assert "inverter_trip" not in reasons and "snow_loss" not in reasons
    # the snowed-in 6 January is snow (the air temperature says so), not a trip: no false alert
    assert [a.fault_type for a in alerts if a.fault_type != "snow_loss"] == []


def test_dc_is_read_from_the_clear_buckets_not_the_cloudy_ones(power_csv: Path) -> None:
    """The DC nameplate inferred against the clear sky comes from the top decile of AC / clear-sky POA; the
    median would take SERF west's cloudy and snowy buckets for an array a fifth smaller."""
    from heliosgrid.maintenance.csv_orientation import Mount
    from heliosgrid.maintenance.csv_series import _clear_sky_poa
    from heliosgrid.maintenance.realdata import infer_capacities

    series = load_csv_series(_spec(power_csv))
    r = series.readings.set_index("ts")
    poa = _clear_sky_poa(r, (39.742, -105.178, 1800.0), 900, Mount(20.0, 180.0))
    top, _ = infer_capacities(r["ac_power_kw"], poa, clear_sky=True)
    median, _ = infer_capacities(r["ac_power_kw"], poa)
    assert series.device.dc_capacity_kw == top and top > 1.15 * median


def test_cli_scores_a_power_only_csv(power_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from heliosgrid.cli import main

    args = ["maintenance", "evaluate", "--real", "--csv", str(power_csv), "--timestamp-col", "time", "--ac-col", "kw",
            "--ambient-temp-col", "tamb", "--latitude", "39.742", "--longitude", "-105.178", "--tilt", "20",
            "--azimuth", "180", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    per = result["per_fault_type"]
    assert per["inverter_trip"]["recall"] == 1.0 and per["inverter_trip"]["precision"] == 1.0
    assert per["comm_gap"]["recall"] == 1.0
    assert "stuck_sensor" not in per and "irradiance_drift" not in per  # no sensor: nothing injected
    assert all(v == 0.0 for v in result["false_alerts_per_30_site_days"].values())
    assert not np.isnan(result["series"][0]["site_days"])


def test_a_two_column_file_needs_no_column_names(power_csv: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from heliosgrid.cli import main

    two = tmp_path / "two.csv"
    pd.read_csv(power_csv)[["time", "kw"]].to_csv(two, index=False)
    base = ["maintenance", "evaluate", "--real", "--csv", str(two), "--latitude", "39.742", "--longitude", "-105.178",
            "--tilt", "20", "--azimuth", "180", "--json"]
    assert main(base) == 0
    captured = capsys.readouterr()
    assert "the file's two columns 'time' and 'kw' are read as the timestamp and the AC power" in captured.err
    assert json.loads(captured.out)["per_fault_type"]["comm_gap"]["recall"] == 1.0
    assert main([*base[:4], str(power_csv), *base[5:]]) == 2  # three columns: which is the power?
    assert "--csv needs --timestamp-col, --ac-col" in capsys.readouterr().err


def test_a_portal_export_that_sleeps_at_night_raises_no_nightly_gap(tmp_path: Path) -> None:
    """An export on a full time grid whose nights are empty rows, with a few rows of the grid missing at night
    (the Sheffield Solar fixture of pv-site-prediction): the empty rows are no readings, so the logger sleeps
    at night and its night holes are no communication gaps. Before, each night hole was a comm_gap alert (13 in
    13 days on a UK January system). A daylight gap is still one."""
    from heliosgrid.maintenance.real_eval import dag_replay

    r = serf_west().readings.set_index("ts")["ac_power_kw"]
    grid = r.resample("15min").mean()
    night = grid.index.hour < 14  # 17:00–07:00 in Golden (UTC−7); January sunrise ≈ 14:20, sunset ≈ 23:50 UTC
    grid[night] = np.nan
    holes = night & (grid.index.minute == 30) & grid.index.hour.isin([3, 6])  # rows missing from the grid
    grid[(grid.index >= "2022-01-04 19:00") & (grid.index < "2022-01-04 20:00")] = np.nan  # a daylight gap
    kept = grid[~holes | ~night]
    path = tmp_path / "grid.csv"
    pd.DataFrame({"time": kept.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "kw": kept.to_numpy()}).to_csv(path, index=False)
    series = load_csv_series(_spec(path, ambient_temp_col=None))
    assert series.readings["ac_power_kw"].notna().all()  # no empty row became a reading
    gaps = [a for a in dag_replay(series.site, series.readings).alerts if a.fault_type == "comm_gap"]
    assert [(a.started_at.hour, a.started_at.day) for a in gaps] == [(19, 4)]
