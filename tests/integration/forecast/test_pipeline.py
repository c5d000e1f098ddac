"""Training pipeline on real PostgreSQL: registry, champion, idempotent forecasts, view, drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.forecast.pipeline import check_drift, load_artifact, retrain_site, run_forecasts
from heliosgrid.forecast.synthetic import synthetic_power
from heliosgrid.settings import Settings, load_settings

pytestmark = pytest.mark.integration

SITE = "fc-site"
START = pd.Timestamp("2024-05-01", tz="UTC")
DAYS = 24
AS_OF = START + pd.Timedelta(days=21)


@pytest.fixture(scope="module")
def conn(pg_db: str) -> Iterator[psycopg.Connection]:
    c = open_connection(pg_db)
    c.execute("""INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, altitude_m, timezone, dc_capacity_kw,
                                    ac_capacity_kw)
                 VALUES (%s, 'Forecast test', 37.1, -2.4, 500, 'Europe/Madrid', 115, 100)""", (SITE,))
    for i in (1, 2):  # two 50 kW inverters; the synthetic site power is split evenly between them
        c.execute("""INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw,
                                          ac_capacity_kw) VALUES (%s, %s, 'inverter', 30, 180, 57.5, 50)""",
                  (f"{SITE}-inv0{i}", SITE))
    power = synthetic_power(DAYS, start=str(START.date()), pattern="alternating", seed=21)
    c.execute("SELECT helios_ensure_partitions('readings_15m', %s, %s)",
              (power.index[0].to_pydatetime(), power.index[-1].to_pydatetime()))
    rows = [(f"{SITE}-inv0{i}", SITE, ts.to_pydatetime(), v / 2, v / 2 * 0.25)
            for ts, v in power.items() for i in (1, 2)]
    with c.cursor() as cur:
        cur.executemany(
            """INSERT INTO readings_15m (device_id, site_id, bucket, sample_count, completeness, ac_power_kw_avg, energy_kwh,
                                         status_ok_count) VALUES (%s, %s, %s, 15, 1.0, %s, %s, 15)""", rows)
    c.commit()
    yield c
    c.close()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(models_dir=tmp_path_factory.mktemp("models"), forecast_train_days=30, forecast_backtest_days=6,
                         forecast_models="persistence,climatology,prophet,arima,gbm", forecast_drift_window_days=2)


@pytest.fixture(scope="module")
def trained(conn: psycopg.Connection, settings: Settings) -> dict[str, object]:
    out = retrain_site(conn, SITE, settings, AS_OF).as_dict()
    conn.commit()  # retrain_site leaves the transaction to its caller
    return out


def test_retrain_does_not_commit_the_callers_transaction(pg_db: str, settings: Settings,
                                                         trained: dict[str, object]) -> None:
    """The storage shell writes inside ``conn.transaction()``: a caller that rolls back loses the rows."""
    as_of = AS_OF - pd.Timedelta(days=1)
    with open_connection(pg_db) as c:
        retrain_site(c, SITE, settings, as_of)
        assert c.execute("SELECT count(*) FROM models WHERE train_end <= %s", (as_of.to_pydatetime(),)).fetchone()[0] == 6
        c.rollback()
        assert c.execute("SELECT count(*) FROM models WHERE train_end <= %s", (as_of.to_pydatetime(),)).fetchone()[0] == 0


def test_retrain_registers_candidates_and_promotes(conn: psycopg.Connection, trained: dict[str, object]) -> None:
    rows = conn.execute("SELECT model_name, is_champion, artifact_path, data_hash, train_end, metrics, params FROM models "
                        "WHERE site_id = %s ORDER BY model_name", (SITE,)).fetchall()
    assert [r[0] for r in rows] == ["arima", "climatology", "gbm", "per_horizon", "persistence", "prophet"]
    assert sum(r[1] for r in rows) == 1
    assert trained["promoted"] is True and trained["reason"] == "no current champion"
    champ = next(r for r in rows if r[1])
    assert champ[0] == "per_horizon"
    assert "gbm" in champ[6]["model"]["weights"]["24-48h"]  # the alternating pattern is learnable, persistence is not
    assert trained["champion_by_bucket"]["24-48h"] != "persistence"
    assert Path(champ[2]).is_file() and load_artifact(champ[2]).name == "per_horizon"
    assert {"sentinels", "clock", "gap_intervals"} <= set(trained["hygiene"])
    assert len(champ[3]) == 64 and pd.Timestamp(champ[4]) <= AS_OF
    assert champ[5]["24-48h"]["skill"] > 0.3


def test_retrain_same_as_of_is_idempotent(conn: psycopg.Connection, settings: Settings, trained: dict[str, object]) -> None:
    again = retrain_site(conn, SITE, settings, AS_OF)
    assert again.promoted is False and again.champion_version == trained["champion_version"]
    assert conn.execute("SELECT count(*) FROM models WHERE site_id = %s", (SITE,)).fetchone()[0] == 6


def test_forecast_writes_are_idempotent(conn: psycopg.Connection, settings: Settings, trained: dict[str, object]) -> None:
    issued = AS_OF + pd.Timedelta(hours=6)
    n1 = run_forecasts(conn, settings, issued)
    n2 = run_forecasts(conn, settings, issued + pd.Timedelta(minutes=7))  # floors to the same issue time
    assert n1 == n2 == 192
    count, bad = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT (p10_kw <= p50_kw AND p50_kw <= p90_kw AND p90_kw <= 100.0001)) "
        "FROM forecasts WHERE site_id = %s AND issued_at = %s", (SITE, issued.to_pydatetime())).fetchone()
    assert count == 192 and bad == 0
    joined = conn.execute("SELECT count(*), count(actual_kw) FROM forecast_vs_actual WHERE site_id = %s AND issued_at = %s",
                          (SITE, issued.to_pydatetime())).fetchone()
    assert joined[0] == 192 and joined[1] > 0  # actuals exist for the targets inside the data
    # the one-statement write reaches the latest-forecast and fleet-band rows (migration 0170)
    latest = conn.execute("SELECT count(*), min(issued_at) FROM bi.forecast_latest WHERE site_id = %s AND target_ts >= %s",
                          (SITE, issued.to_pydatetime())).fetchone()
    assert latest == (192, issued.to_pydatetime())
    at = (issued.to_pydatetime(),)
    fleet = conn.execute("SELECT sum(p50_kw) FROM bi.fleet_forecast_15m WHERE target_ts >= %s", at).fetchone()
    live = conn.execute("SELECT sum(p50_kw) FROM forecasts WHERE issued_at = %s", at).fetchone()
    assert fleet is not None and live is not None and abs(fleet[0] - live[0]) < 1e-6


def test_drift_alert_raised_once_and_resolved(conn: psycopg.Connection, settings: Settings, trained: dict[str, object]) -> None:
    for hours in range(0, 48, 6):  # a couple of days of stored forecasts with known actuals
        run_forecasts(conn, settings, AS_OF + pd.Timedelta(hours=hours))
    as_of = AS_OF + pd.Timedelta(days=3)
    strict = settings.model_copy(update={"forecast_drift_skill_threshold": 2.0})  # skill can never reach 2
    first = check_drift(conn, strict, as_of)
    second = check_drift(conn, strict, as_of)
    assert len(first) == len(second) == 1
    assert first[0]["alert_id"] == second[0]["alert_id"] and first[0]["fault_type"] == "forecast_drift"
    assert first[0]["source"] == "forecast" and first[0]["evidence"]["n"] >= 48
    assert first[0]["evidence"]["skill"] > 0.2  # gbm genuinely beats persistence on this series
    assert check_drift(conn, settings, as_of) == []  # threshold 0: skill is fine, the alert is resolved
    state = conn.execute("SELECT state FROM alerts WHERE alert_id = %s", (first[0]["alert_id"],)).fetchone()[0]
    assert state == "resolved"


def test_band_is_updated_online_from_matured_forecasts(conn: psycopg.Connection, settings: Settings,
                                                       trained: dict[str, object]) -> None:
    """The hourly path rebuilds the champion's band from its matured forecasts: when the stored point forecasts
    (the band's centre, ADR 0580) turn out far off, the next band is wider than with accurate ones (same
    history, same model)."""
    from heliosgrid.forecast.online import matured_forecasts
    from heliosgrid.forecast.pipeline import champions, forecast_site

    for hours in range(0, 48, 6):
        run_forecasts(conn, settings, AS_OF + pd.Timedelta(hours=hours))
    champ = champions(conn, [SITE])[0]
    issue = AS_OF + pd.Timedelta(days=2, hours=12)
    assert len(matured_forecasts(conn, SITE, champ["model_version"], issue)) > 500
    accurate = forecast_site(conn, champ, settings, issue)
    stored = conn.execute("SELECT count(*), count(point_kw) FROM forecasts WHERE site_id = %s", (SITE,)).fetchone()
    assert stored is not None and stored[0] > 0 and stored[1] == stored[0]  # every new row keeps its point forecast
    conn.execute("UPDATE forecasts SET point_kw = point_kw * 0.3 "
                 "WHERE site_id = %s AND model_version = %s AND issued_at < %s",
                 (SITE, champ["model_version"], issue.to_pydatetime()))
    try:
        off = forecast_site(conn, champ, settings, issue)
    finally:
        conn.rollback()
    day = (accurate["horizon_min"] >= 360) & (accurate["p50_kw"] > 5.0)
    assert (accurate["p50_kw"] == off["p50_kw"]).all()
    width = {name: float((f["p90_kw"] - f["p10_kw"])[day].mean()) for name, f in (("accurate", accurate), ("off", off))}
    assert width["off"] > 1.3 * width["accurate"], width


def test_cli_models_run_and_errors(monkeypatch: pytest.MonkeyPatch, pg_db: str, settings: Settings,
                                  trained: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from heliosgrid.cli import main
    from heliosgrid.settings import get_settings

    monkeypatch.setenv("HELIOS_DATABASE_URL", pg_db)
    monkeypatch.setenv("HELIOS_MODELS_DIR", str(settings.models_path))
    get_settings.cache_clear()
    try:
        assert main(["forecast", "models", "--site", SITE, "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert len(rows) == 6 and sum(r["is_champion"] for r in rows) == 1
        assert all(float(r["age_h"]) >= 0 for r in rows)
        assert main(["forecast", "models"]) == 0
        assert "yes" in capsys.readouterr().out  # the champion column
        issued = (AS_OF + pd.Timedelta(hours=1)).isoformat()
        assert main(["forecast", "run", "--issued-at", issued]) == 0
        assert "wrote 192 forecast rows" in capsys.readouterr().out
        with pytest.raises(SystemExit) as exit_info:  # argparse rejects it before anything runs
            main(["forecast", "run", "--issued-at", "2024-05-22T07:00"])
        assert exit_info.value.code == 2 and "needs a UTC offset" in capsys.readouterr().err
        assert main(["forecast", "train", "--site", "no-such-site"]) == 2
        assert "unknown site 'no-such-site'" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
