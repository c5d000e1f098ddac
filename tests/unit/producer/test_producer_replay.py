"""Replay: NREL SERF from the pvanalytics wheel and CSV files become valid contract messages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from heliosgrid.contract import ReadingV1, decode_reading
from producer.messages import frame_to_messages
from producer.replay import DATASETS, load_csv, load_serf, parse_mapping, shift_to_start

FAR_FUTURE = pd.Timestamp("2100-01-01T00:00Z").to_pydatetime()


@pytest.fixture(scope="module")
def serf() -> pd.DataFrame:
    return load_serf("serf").readings


def test_serf_devices_and_units(serf: pd.DataFrame) -> None:
    assert set(serf["device_id"]) == {"nrel-serf-west-inv01", "nrel-serf-east-inv01"}
    west = serf[serf["device_id"] == "nrel-serf-west-inv01"]
    assert len(west) == 480 and west["poa_w_m2"].max() > 900
    assert 4.0 < serf["ac_power_kw"].max() < 6.0  # W converted to kW (5–6 kW systems)
    assert set(serf["inverter_status"].dropna()) == {"ok", "standby"}


def test_serf_replay_messages_are_valid_and_ordered(serf: pd.DataFrame) -> None:
    shifted = shift_to_start(serf, pd.Timestamp("2026-01-05T00:00Z"))
    rejected = []
    for msg in frame_to_messages(shifted):
        result = decode_reading(msg.value, msg.key, now=FAR_FUTURE)
        if not isinstance(result, ReadingV1):
            rejected.append((msg.value, result))
    assert rejected == []
    for _dev, group in shifted.groupby("device_id"):
        assert group["seq"].is_monotonic_increasing and group["seq"].is_unique


def test_shift_keeps_time_of_day(serf: pd.DataFrame) -> None:
    start = pd.Timestamp("2026-03-10T00:00Z")
    shifted = shift_to_start(serf, start)
    assert shifted["ts"].min().normalize() == start
    assert (shifted["ts"].dt.time.to_numpy() == serf["ts"].dt.time.to_numpy()).all()
    assert (shifted["seq"] == (shifted["ts"].astype("int64") // 60_000_000_000)).all()


def test_one_minute_dataset() -> None:
    r = DATASETS["serf-east-1min"]().readings
    assert len(r) == 2607 and (r["ts"].diff().dropna() == pd.Timedelta("1min")).mean() > 0.99


def test_csv_with_mapping(tmp_path: Path) -> None:
    csv = tmp_path / "plant.csv"
    csv.write_text(
        "time,P_ac_W,G_poa\n2024-05-01 12:00,4000,800\n2024-05-01 12:01,4100,810\n2024-05-01 12:02,,820\n"
        "garbage,1,1\n",
        encoding="utf-8",
    )
    src = load_csv(csv, device_id="es-tabernas-inv01", site_id="es-tabernas", ts_column="time",
                   mapping=parse_mapping(["ac_power_kw=P_ac_W*0.001", "poa_w_m2=G_poa"]), timezone="Europe/Madrid")
    r = src.readings
    assert len(r) == 3  # the unparsable timestamp row is dropped
    assert r["ts"].iloc[0] == pd.Timestamp("2024-05-01T10:00Z")
    assert r["ac_power_kw"].iloc[0] == pytest.approx(4.0) and pd.isna(r["ac_power_kw"].iloc[2])
    for msg in frame_to_messages(r):
        assert isinstance(decode_reading(msg.value, msg.key, now=FAR_FUTURE), ReadingV1)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["ac_power_kw"], "FIELD=COLUMN"),
        (["bogus=col"], "not a contract measure"),
        (["ac_power_kw=col*x"], "not a number"),
        ([], "at least one"),
    ],
)
def test_mapping_errors(items: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mapping(items)


def test_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_csv(tmp_path / "none.csv", device_id="d", site_id="s", mapping={"ac_power_kw": ("a", 1.0)}, ts_column="t")
    csv = tmp_path / "x.csv"
    csv.write_text("t,a\n2024-01-01,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"has no column\(s\) 'b'; columns are: 't', 'a'$"):
        load_csv(csv, device_id="d", site_id="s", mapping={"ac_power_kw": ("b", 1.0)}, ts_column="t")
    indexed = tmp_path / "indexed.csv"  # a pandas frame written with its index: the time column has no header
    indexed.write_text(",a\n2024-01-01T12:00Z,1\n2024-01-01T12:01Z,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="the first column has no header: give the timestamp column as ''"):
        load_csv(indexed, device_id="d", site_id="s", mapping={"ac_power_kw": ("a", 1.0)}, ts_column="timestamp")
    source = load_csv(indexed, device_id="d", site_id="s", mapping={"ac_power_kw": ("a", 1.0)}, ts_column="")
    assert len(source.readings) == 2


def test_each_file_is_its_own_site_and_lands_on_the_start_date(serf: pd.DataFrame) -> None:
    """README example `--start 2026-01-05`: both files start that day (the 2022 file used to land in 2031)."""
    assert set(serf.groupby("device_id")["site_id"].first()) == {"nrel-serf-west", "nrel-serf-east"}
    shifted = shift_to_start(serf, pd.Timestamp("2026-01-05T00:00Z"), now=pd.Timestamp("2026-12-01T00:00Z"))
    firsts = shifted.groupby("site_id")["ts"].min().dt.normalize()
    assert (firsts == pd.Timestamp("2026-01-05T00:00Z")).all()
    assert shifted["ts"].max() < pd.Timestamp("2026-06-01T00:00Z")


def test_replay_never_lands_in_the_future(serf: pd.DataFrame) -> None:
    now = pd.Timestamp("2026-02-01T12:00Z")
    shifted = shift_to_start(serf, pd.Timestamp("2026-01-20T00:00Z"), now=now)
    assert shifted["ts"].max() <= now
    assert (shifted["ts"].dt.time.to_numpy() == serf["ts"].dt.time.to_numpy()).all()


def test_csv_replays_of_two_devices_are_two_runs_for_the_checkpoint(tmp_path: Path) -> None:
    """A plant replayed device by device (one CSV replay each, no fleet): the second replay used to resume the
    first one's checkpoint (same mode, start, row count) and send nothing."""
    from producer.runconfig import RunConfig

    csv = tmp_path / "plant.csv"
    times = pd.date_range("2024-06-01T12:00Z", periods=30, freq="5min")
    pd.DataFrame({"t": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "a": 1.0, "b": 2.0}).to_csv(csv, index=False)

    def key(device: str, column: str) -> str:
        frame = load_csv(csv, device_id=device, site_id="s", mapping={"ac_power_kw": (column, 1.0)}, ts_column="t").readings
        config = RunConfig(mode="replay", topic="t", bootstrap_servers="b", start=frame["ts"].min(), replay_frame=frame)
        return config.run_key([])

    assert key("inv01", "a") == key("inv01", "a")  # the same replay resumes
    assert key("inv01", "a") != key("inv02", "a")  # another device is another run
    assert key("inv01", "a") != key("inv01", "b")  # other data too


def test_by_default_every_file_ends_yesterday_and_stale_readings_are_announced(caplog: pytest.LogCaptureFixture) -> None:
    """`python -m producer replay --dataset serf` without --start: the default was the span over both files
    (2016 … 2022), which put the data in 2021 — all of it quarantined as stale_timestamp by the consumer."""
    from heliosgrid.settings import load_settings
    from producer.cli import _now_floor, _replay_source, _warn_if_stale, build_parser

    frame, _ = _replay_source(build_parser().parse_args(["replay", "--dataset", "serf"]))
    yesterday = _now_floor("1D") - pd.Timedelta(days=1)
    assert (frame.groupby("site_id")["ts"].max().dt.normalize() == yesterday).all()
    assert frame["ts"].is_monotonic_increasing
    with caplog.at_level("WARNING", logger="heliosgrid.producer"):
        _warn_if_stale(frame, load_settings(retention_raw_days=30))
    assert "will be quarantined as stale_timestamp" in caplog.text and "HELIOS_INGEST_TS_MAX_AGE_DAYS to 10" in caplog.text
    caplog.clear()
    _warn_if_stale(frame, load_settings(retention_raw_days=30, ingest_ts_max_age_days=200))
    assert caplog.text == ""
