"""`heliosgrid forecast backtest` on a small CSV and its input errors (exit 2, no traceback)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from heliosgrid.cli import main
from heliosgrid.forecast.synthetic import synthetic_power


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = synthetic_power(16, pattern="alternating", seed=11)
    path = tmp_path_factory.mktemp("fc") / "plant.csv"
    local = s.index.tz_convert("Europe/Madrid").tz_localize(None)  # naive local times, --tz says which zone
    pd.DataFrame({"time": local.strftime("%Y-%m-%d %H:%M:%S"), "power": s.to_numpy()}).to_csv(path, index=False)
    return path


def args(csv: Path, **over: str) -> list[str]:
    base = {"--timestamp-col": "time", "--power-col": "power", "--latitude": "37.1", "--longitude": "-2.4",
            "--capacity-kw": "100", "--tz": "Europe/Madrid"}
    base.update(over)
    out = ["forecast", "backtest", "--csv", str(csv)]
    for k, v in base.items():
        out += [k, v]
    return out


def test_backtest_json_on_csv(small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "bt.png"
    rc = main([*args(small_csv, **{"--tilt": "30", "--azimuth": "180"}), "--models", "persistence,climatology,gbm",
               "--test-days", "5", "--json", "--plot", str(png)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["models"]) == {"persistence", "climatology", "gbm", "per_horizon"}
    for model in out["models"].values():
        assert set(model) == {"0-1h", "1-6h", "6-24h", "24-48h", "all"}
        for key in ("mae_kw", "rmse_kw", "nrmse", "skill", "pinball_kw", "coverage_p10_p90", "interval_width_rel",
                    "pinball_skill_vs_climatology", "coverage_ci90_lo", "coverage_ci90_hi"):
            assert key in model["24-48h"]
        cell = model["24-48h"]
        assert cell["coverage_ci90_lo"] <= cell["coverage_ci90_hi"]  # 5 test days: an interval, not a point
    assert out["champion"] == "per_horizon" and out["champion"] in out["models"]
    assert set(out["champion_by_bucket"]) == {"0-1h", "1-6h", "6-24h", "24-48h"}
    for choice in out["champion_by_bucket"].values():  # a candidate or a blend of candidates
        assert choice in {"persistence", "climatology", "gbm"} or choice.startswith("blend:")
    assert set(out["hygiene"]) >= {"sentinels", "negative_night", "above_nameplate", "flatline_intervals",
                                   "gap_intervals", "duplicate_timestamps", "clock"}
    assert out["models"]["persistence"]["all"]["skill"] == 0.0
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backtest_table_shows_each_coverage_with_its_interval(small_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main([*args(small_csv, **{"--tilt": "30", "--azimuth": "180"}), "--models", "persistence", "--test-days", "5"])
    out = capsys.readouterr().out
    assert rc == 0
    head, _, first = out.splitlines()[:3]
    assert "cov80" in head and "90% int." in head
    assert first.startswith("persistence  0-1h") and re.search(r" 0\.\d\d–[01]\.\d\d ", first)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"--power-col": "kw"}, "has no column(s) 'kw'"),
        ({"--capacity-kw": "0"}, "--capacity-kw must be > 0"),
        ({"--capacity-kw": "-5"}, "--capacity-kw must be > 0"),
        ({"--tz": "Mars/Olympus"}, "unknown time zone"),
        ({"--latitude": "123"}, "latitude must be within"),
        ({"--capacity-kw": "100000"}, "probably in MW, not kW (give --power-unit MW)"),
    ],
)
def test_bad_input_exit_2(small_csv: Path, over: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main([*args(small_csv, **over), "--models", "persistence"])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert "Traceback" not in err


def test_unparsable_timestamps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,power\n2024-01-01 00:00,1\nyesterday-ish,2\n")
    rc = main([*args(bad), "--models", "persistence"])
    err = capsys.readouterr().err
    assert rc == 2 and "unparsable timestamp" in err and "yesterday-ish" in err


def test_missing_csv_options(small_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["forecast", "backtest", "--csv", str(small_csv), "--timestamp-col", "time"])
    err = capsys.readouterr().err
    assert rc == 2 and "--power-col" in err and "--capacity-kw" in err


def test_a_two_column_file_needs_no_column_names(small_csv: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A timestamp and a power column, a location and a nameplate (what issue 15's judged series give): the two
    columns are read in that order and said; a third column brings the flags back."""
    base = ["forecast", "backtest", "--csv", str(small_csv), "--latitude", "37.1", "--longitude", "-2.4",
            "--capacity-kw", "100", "--tz", "Europe/Madrid", "--tilt", "30", "--azimuth", "180",
            "--models", "persistence", "--test-days", "5", "--json"]
    assert main(base) == 0
    captured = capsys.readouterr()
    assert "the file's two columns 'time' and 'power' are read as the timestamp and the AC power" in captured.err
    named = main([*args(small_csv, **{"--tilt": "30", "--azimuth": "180"}), "--models", "persistence", "--test-days",
                  "5", "--json"])
    assert named == 0 and json.loads(capsys.readouterr().out)["models"] == json.loads(captured.out)["models"]
    three = tmp_path / "three.csv"
    pd.read_csv(small_csv).assign(extra=1.0).to_csv(three, index=False)
    assert main([*base[:3], str(three), *base[4:]]) == 2
    assert "--csv needs --timestamp-col, --power-col" in capsys.readouterr().err


def test_unknown_dataset_and_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forecast", "backtest", "--dataset", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert main(["forecast", "backtest", "--dataset", "serf", "--models", "crystal-ball"]) == 2
    assert "unknown model(s) crystal-ball" in capsys.readouterr().err


def test_a_file_in_megawatts_or_kwh_per_interval_is_read_with_power_unit(small_csv: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The same plant written in MW (a utility export), or as kWh per 15 min (a portal's energy column), gives
    the same backtest with ``--power-unit MW`` / ``kWh``."""
    frame = pd.read_csv(small_csv)
    frame.assign(power=frame["power"] / 1000.0).to_csv(tmp_path / "mw.csv", index=False)
    frame.assign(power=frame["power"] * 0.25).to_csv(tmp_path / "kwh.csv", index=False)
    runs = []
    for path, unit in ((small_csv, "kW"), (tmp_path / "mw.csv", "MW"), (tmp_path / "kwh.csv", "kWh")):
        assert main([*args(path, **{"--power-unit": unit, "--tilt": "30", "--azimuth": "180"}), "--models",
                     "persistence,climatology", "--test-days", "5", "--json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    for run in runs[1:]:
        assert run["hygiene"]["observed_max_kw"] == pytest.approx(runs[0]["hygiene"]["observed_max_kw"])
        assert run["models"]["persistence"]["all"]["rmse_kw"] == pytest.approx(runs[0]["models"]["persistence"]["all"]["rmse_kw"])


def test_a_plant_off_before_the_test_window_is_told_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A home system logged zeros for months and produced only from three days before the test window (CityLearn
    building 15): the error names that, not a model's "needs at least 20 daylight intervals"."""
    s = synthetic_power(40, pattern="alternating", seed=11)
    test_start = (s.index[-1] + pd.Timedelta(minutes=15) - pd.Timedelta(days=5)).floor("h")
    s[(s.index < test_start - pd.Timedelta(days=3))] = 0.0
    path = tmp_path / "off.csv"
    local = s.index.tz_convert("Europe/Madrid").tz_localize(None)
    pd.DataFrame({"time": local.strftime("%Y-%m-%d %H:%M:%S"), "power": s.to_numpy()}).to_csv(path, index=False)
    rc = main([*args(path, **{"--tilt": "30", "--azimuth": "180"}), "--test-days", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert re.search(r"only [34] of the 30 days before the test window .* have output", err), err
