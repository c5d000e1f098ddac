"""Each DAG executed with ``dag.test()`` against a fresh, real PostgreSQL database.

The tasks reach the database through the documented Airflow connection
(``AIRFLOW_CONN_HELIOSGRID_DB``). Every DAG is run twice for the same logical date: the second
run must leave the same rows (idempotency keyed by the data interval).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helios_dag_env import PROBE_BUNDLE

from heliosgrid.db.connection import open_connection
from heliosgrid.physics.fleet import demo_fleet
from heliosgrid.quality import CHECK_NAMES
from heliosgrid.quality.synthetic import clean_readings, insert_fleet, insert_readings
from heliosgrid.settings import load_settings

pytestmark = pytest.mark.integration

SITE = demo_fleet()[0]  # es-tabernas: 4 inverters + 1 weather station


def run_dag(dagbag: Any, dag_id: str, logical_date: datetime) -> Any:
    """``dag.test()`` one run; also checks that every task really ran (none skipped or left out)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag = dagbag.get_dag(dag_id)
    dag_run = dag.test(logical_date=logical_date)
    with create_session() as session:
        states = {(ti.task_id, ti.map_index): ti.state for ti in
                  session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dag_run.run_id)}
    assert {task_id for task_id, _ in states} == set(dag.task_ids), states
    assert dag_run.state != "success" or all(state == "success" for state in states.values()), states
    return dag_run


def count(conn: psycopg.Connection, sql: str, *params: Any) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def test_quality_dag_clean_run_then_planted_defects(dagbag: Any, fresh_db: Callable[..., str],
                                                    helios_env: Callable[..., None]) -> None:
    url = fresh_db()
    helios_env(url)
    start = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)
    with open_connection(url, autocommit=True) as conn:
        insert_fleet(conn, [SITE])
        clean = clean_readings(SITE, start, start + timedelta(minutes=45), seed=21)
        insert_readings(conn, clean)

        # clean interval [11:00, 11:15): every check passes, one row per check and device
        first = run_dag(dagbag, "heliosgrid_quality", start + timedelta(minutes=15))
        assert first.state == "success"
        rows = conn.execute("SELECT check_name, device_id, passed, window_start, window_end FROM dq_results "
                            "ORDER BY 1, 2").fetchall()
        assert len(rows) == len(SITE.devices) * len(CHECK_NAMES) + 1
        assert all(r[2] for r in rows)
        assert {(r[3], r[4]) for r in rows} == {(start, start + timedelta(minutes=15))}
        assert count(conn, "SELECT count(*) FROM alerts WHERE fault_type <> 'contract_violation'") == 0
        # the contract task ran too: no forecasts yet, but the forecast DAG never ran: pending, no alert
        contract_alerts = conn.execute("SELECT site_id, device_id, source, state FROM alerts "
                                       "WHERE fault_type = 'contract_violation' ORDER BY device_id").fetchall()
        assert ("_pipeline", "forecasts", "quality", "open") not in contract_alerts

        # same logical date again: same rows, no duplicates
        assert run_dag(dagbag, "heliosgrid_quality", start + timedelta(minutes=15)).state == "success"
        assert conn.execute("SELECT check_name, device_id, passed, window_start, window_end FROM dq_results "
                            "ORDER BY 1, 2").fetchall() == rows
        # (the quality contract is judged now too: its DAG has succeeded once; its freshness compares
        # the wall-clock checked_at with this June interval, so it is left out of the comparison)
        assert conn.execute("SELECT site_id, device_id, source, state FROM alerts WHERE fault_type = "
                            "'contract_violation' AND device_id <> 'quality' ORDER BY device_id").fetchall() \
            == contract_alerts

        # interval [11:15, 11:30) with a frozen sensor, a gap and an impossible irradiance value
        sl = clean[(clean["ts"] >= start + timedelta(minutes=15)) & (clean["ts"] < start + timedelta(minutes=30))]
        inv02 = sl.index[sl["device_id"] == f"{SITE.site_id}-inv02"][2:12]
        conn.execute("DELETE FROM readings WHERE device_id = %s AND ts >= %s AND ts < %s",
                     (f"{SITE.site_id}-inv03", start + timedelta(minutes=20), start + timedelta(minutes=27)))
        bad = clean.loc[inv02].copy()
        bad["poa_w_m2"] = float(clean.loc[inv02[0], "poa_w_m2"])
        spike = clean.loc[[sl.index[sl["device_id"] == f"{SITE.site_id}-ws01"][7]]].copy()
        spike["poa_w_m2"] = 1750.0
        insert_readings(conn, bad)
        insert_readings(conn, spike)
        window = (start + timedelta(minutes=15), start + timedelta(minutes=30))
        for _ in range(2):  # the re-run must not duplicate anything
            assert run_dag(dagbag, "heliosgrid_quality", window[1]).state == "success"
            failed = conn.execute("SELECT check_name, device_id FROM dq_results WHERE NOT passed AND window_start = %s "
                                  "AND window_end = %s ORDER BY 1, 2", window).fetchall()
            assert failed == [("completeness", f"{SITE.site_id}-inv03"),
                              ("poa_clearsky_limits", f"{SITE.site_id}-ws01"),
                              ("stale_values", f"{SITE.site_id}-inv02")]
            alerts = conn.execute("SELECT fault_type, device_id, source, state FROM alerts "
                                  "WHERE fault_type <> 'contract_violation' ORDER BY 1").fetchall()
            assert alerts == [("completeness", f"{SITE.site_id}-inv03", "quality", "open"),
                              ("poa_clearsky_limits", f"{SITE.site_id}-ws01", "quality", "open"),
                              ("stale_values", f"{SITE.site_id}-inv02", "quality", "open")]

        # the next interval is clean again: the three alerts resolve themselves
        assert run_dag(dagbag, "heliosgrid_quality", start + timedelta(minutes=45)).state == "success"
        quality = "source = 'quality' AND site_id = %s"
        assert count(conn, f"SELECT count(*) FROM alerts WHERE {quality} AND state = 'resolved' "
                     "AND resolved_by = 'auto'", SITE.site_id) == 3
        assert count(conn, f"SELECT count(*) FROM alerts WHERE {quality} AND state <> 'resolved'", SITE.site_id) == 0


def test_housekeeping_dag_refreshes_rollups_and_applies_retention(
    dagbag: Any, fresh_db: Callable[..., str], helios_env: Callable[..., None]
) -> None:
    from heliosgrid.db.retention import seed_policies

    url = fresh_db()
    helios_env(url)
    recent = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)
    old = datetime(2026, 4, 1, 11, 0, tzinfo=UTC)  # older than the 30-day raw retention
    with open_connection(url, autocommit=True) as conn:
        seed_policies(conn, load_settings())
        insert_fleet(conn, [SITE])
        insert_readings(conn, clean_readings(SITE, recent, recent + timedelta(hours=1), seed=1))
        insert_readings(conn, clean_readings(SITE, old, old + timedelta(minutes=30), seed=2))
        assert count(conn, "SELECT count(*) FROM readings_15m") == 0

        logical = datetime(2026, 6, 21, 13, 7, tzinfo=UTC)
        assert run_dag(dagbag, "heliosgrid_housekeeping", logical).state == "success"
        rollups = conn.execute("SELECT device_id, bucket, sample_count FROM readings_15m ORDER BY 1, 2").fetchall()
        assert len(rollups) == len(SITE.devices) * (4 + 2)
        assert count(conn, "SELECT count(*) FROM readings WHERE ts < %s", recent) == 0  # old partition dropped
        assert count(conn, "SELECT count(*) FROM readings") == len(SITE.devices) * 60
        assert count(conn, "SELECT count(*) FROM readings_15m WHERE bucket < %s", recent) == len(SITE.devices) * 2

        assert run_dag(dagbag, "heliosgrid_housekeeping", logical).state == "success"
        assert conn.execute("SELECT device_id, bucket, sample_count FROM readings_15m ORDER BY 1, 2").fetchall() == rollups


def test_stream_supervision_dag_alerts_on_stale_heartbeat_and_lag(
    dagbag: Any, fresh_db: Callable[..., str], helios_env: Callable[..., None], broker: str
) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata

    url = fresh_db()
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"test.supervision.{suffix}", f"test-group-{suffix}"
    helios_env(url, HELIOS_KAFKA_BOOTSTRAP_SERVERS=broker, HELIOS_TOPIC_READINGS=topic, HELIOS_CONSUMER_GROUP=group,
               HELIOS_CONSUMER_LAG_MAX_MESSAGES="3", HELIOS_HEARTBEAT_MAX_AGE_S="120")
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker)
    for i in range(5):  # one batch: Tansu's ListOffsets would say 1 (ADR 0027), the lag must say 5
        producer.send(topic, key=b"k", value=f"m{i}".encode())
    producer.flush()
    producer.close()

    as_of = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
    with open_connection(url, autocommit=True) as conn:
        conn.execute("INSERT INTO heartbeats (component, instance, last_beat_at) VALUES "
                     "('consumer', 'c1', %s), ('producer', 'p1', %s)",
                     (as_of - timedelta(seconds=30), as_of - timedelta(minutes=10)))
        for _ in range(2):  # re-run of the same interval: same alerts, no duplicates
            assert run_dag(dagbag, "heliosgrid_stream_supervision", as_of).state == "success"
            alerts = conn.execute("SELECT site_id, device_id, fault_type, state FROM alerts ORDER BY 2, 3").fetchall()
            assert alerts == [("_pipeline", "consumer", "consumer_lag", "open"),
                              ("_pipeline", "producer", "heartbeat_stale", "open")]

        # the producer beats again and the consumer group catches up: both alerts resolve
        later = as_of + timedelta(minutes=5)
        conn.execute("UPDATE heartbeats SET last_beat_at = %s", (later - timedelta(seconds=5),))
        consumer = KafkaConsumer(bootstrap_servers=broker, group_id=group, enable_auto_commit=False)
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(5, "", -1)})
        consumer.close()
        assert run_dag(dagbag, "heliosgrid_stream_supervision", later).state == "success"
        assert conn.execute("SELECT device_id, state, resolved_by FROM alerts ORDER BY 1").fetchall() == [
            ("consumer", "resolved", "auto"), ("producer", "resolved", "auto")]


def test_failure_callback_writes_pipeline_alert_and_success_resolves_it(
    airflow_db: Path, fresh_db: Callable[..., str], helios_env: Callable[..., None]
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    url = fresh_db()
    helios_env(url)
    bag = DagBag(dag_folder=str(PROBE_BUNDLE))
    probe = bag.get_dag("heliosgrid_test_callback_probe")
    dag_id = probe.dag_id
    logical = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
    assert probe.test(logical_date=logical, run_conf={"fail": True}).state == "failed"
    with open_connection(url, autocommit=True) as conn:
        row = conn.execute("SELECT site_id, source, fault_type, state, evidence->>'exception' FROM alerts "
                           "WHERE device_id = %s", (dag_id,)).fetchone()
        assert row is not None
        assert row[:4] == ("_pipeline", "pipeline", "dag_failed", "open")
        assert "planted failure" in row[4]
        assert probe.test(logical_date=logical + timedelta(hours=1)).state == "success"
        assert conn.execute("SELECT state, resolved_by FROM alerts WHERE device_id = %s", (dag_id,)).fetchall() == [
            ("resolved", "auto")]


def test_maintenance_dag_raises_inverter_trip_idempotently(
    dagbag: Any, fresh_db: Callable[..., str], helios_env: Callable[..., None]
) -> None:
    url = fresh_db()
    helios_env(url)
    day = datetime(2026, 6, 21, 6, 0, tzinfo=UTC)
    frame = clean_readings(SITE, day, day + timedelta(hours=8), seed=4)
    tripped = (frame["device_id"] == f"{SITE.site_id}-inv01") & (frame["ts"] >= day + timedelta(hours=5)) \
        & (frame["ts"] < day + timedelta(hours=6))
    frame.loc[tripped, ["ac_power_kw", "dc_power_kw"]] = 0.0
    frame.loc[tripped, "inverter_status"] = "fault"
    with open_connection(url, autocommit=True) as conn:
        insert_fleet(conn, [SITE])
        insert_readings(conn, frame)
        logical = day + timedelta(hours=6, minutes=5)  # interval [11:05, 12:05) -> buckets [11:00, 12:00)
        assert run_dag(dagbag, "heliosgrid_maintenance", logical).state == "success"
        first = conn.execute("SELECT alert_id, device_id, fault_type, state, energy_lost_kwh FROM alerts "
                             "WHERE source = 'maintenance' ORDER BY alert_id").fetchall()
        trips = [a for a in first if a[2] == "inverter_trip"]
        assert [(a[1], a[3]) for a in trips] == [(f"{SITE.site_id}-inv01", "open")]
        assert trips[0][4] > 50.0  # an hour of a ~250 kW inverter lost
        assert run_dag(dagbag, "heliosgrid_maintenance", logical).state == "success"
        again = conn.execute("SELECT alert_id, device_id, fault_type, state, energy_lost_kwh FROM alerts "
                             "WHERE source = 'maintenance' ORDER BY alert_id").fetchall()
        assert again == first


FC_SITE = "fc-dag"
FC_START = datetime(2024, 5, 1, tzinfo=UTC)


def _seed_forecast_history(conn: psycopg.Connection, site_id: str = FC_SITE) -> None:
    """24 days of 15-min rollups of a 100 kW two-inverter site (the forecasting tests' pattern)."""
    from heliosgrid.forecast.synthetic import synthetic_power

    conn.execute("INSERT INTO sites (site_id, name, latitude_deg, longitude_deg, altitude_m, timezone, dc_capacity_kw, "
                 "ac_capacity_kw) VALUES (%s, 'Forecast DAG test', 37.1, -2.4, 500, 'Europe/Madrid', 115, 100)",
                 (site_id,))
    for i in (1, 2):
        conn.execute("INSERT INTO devices (device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, "
                     "dc_capacity_kw, ac_capacity_kw) VALUES (%s, %s, 'inverter', 30, 180, 57.5, 50)",
                     (f"{site_id}-inv0{i}", site_id))
    power = synthetic_power(24, start=str(FC_START.date()), pattern="alternating", seed=21)
    conn.execute("SELECT helios_ensure_partitions('readings_15m', %s, %s)",
                 (power.index[0].to_pydatetime(), power.index[-1].to_pydatetime()))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings_15m (device_id, site_id, bucket, sample_count, completeness, ac_power_kw_avg, "
            "energy_kwh, status_ok_count) VALUES (%s, %s, %s, 15, 1.0, %s, %s, 15)",
            [(f"{site_id}-inv0{i}", site_id, ts.to_pydatetime(), v / 2, v / 2 * 0.25)
             for ts, v in power.items() for i in (1, 2)])


def test_retrain_then_forecast_dags_write_models_and_forecasts_idempotently(
    dagbag: Any, fresh_db: Callable[..., str], helios_env: Callable[..., None], tmp_path: Path
) -> None:
    url = fresh_db()
    helios_env(url, HELIOS_MODELS_DIR=str(tmp_path / "models"), HELIOS_FORECAST_TRAIN_DAYS="30",
               HELIOS_FORECAST_BACKTEST_DAYS="6", HELIOS_FORECAST_MODELS="persistence,climatology")
    with open_connection(url, autocommit=True) as conn:
        _seed_forecast_history(conn)
        retrain_at = FC_START + timedelta(days=21, hours=2, minutes=40)
        for _ in range(2):  # a re-run of the same day registers the same versions
            assert run_dag(dagbag, "heliosgrid_retrain", retrain_at).state == "success"
            models = conn.execute("SELECT model_version, model_name, is_champion, train_end FROM models "
                                  "ORDER BY model_name").fetchall()
            # the per-horizon champion (ADR 0120) is registered beside its members
            assert [m[1] for m in models] == ["climatology", "per_horizon", "persistence"]
            assert sum(m[2] for m in models) == 1
            assert all(m[3] <= retrain_at for m in models)

        issued = FC_START + timedelta(days=21, hours=8)
        for _ in range(2):  # same hour again: same forecast rows
            assert run_dag(dagbag, "heliosgrid_forecast", issued + timedelta(minutes=10)).state == "success"
            rows = conn.execute("SELECT count(*), count(DISTINCT target_ts), min(issued_at), max(issued_at), "
                                "bool_and(p10_kw <= p50_kw AND p50_kw <= p90_kw) FROM forecasts").fetchone()
            assert rows is not None
            assert rows[0] == rows[1] == 48 * 4
            assert rows[2] == rows[3] == issued
            assert rows[4] is True


def test_forecast_dag_cold_start_trains_a_champion_first(
    dagbag: Any, fresh_db: Callable[..., str], helios_env: Callable[..., None], tmp_path: Path
) -> None:
    """A fresh stack has history but no model yet: the hourly forecast DAG trains one, then forecasts."""
    url = fresh_db()
    helios_env(url, HELIOS_MODELS_DIR=str(tmp_path / "models"), HELIOS_FORECAST_TRAIN_DAYS="30",
               HELIOS_FORECAST_BACKTEST_DAYS="6", HELIOS_FORECAST_MODELS="persistence,climatology")
    with open_connection(url, autocommit=True) as conn:
        _seed_forecast_history(conn)
        assert count(conn, "SELECT count(*) FROM models") == 0
        issued = FC_START + timedelta(days=21, hours=8)
        for _ in range(2):  # the second run finds the champion and only re-issues the same forecast
            assert run_dag(dagbag, "heliosgrid_forecast", issued + timedelta(minutes=10)).state == "success"
            assert count(conn, "SELECT count(*) FROM models WHERE is_champion") == 1
            assert count(conn, "SELECT count(*) FROM models") == 3  # two members + the per-horizon champion
            assert count(conn, "SELECT count(*) FROM forecasts WHERE issued_at = %s", issued) == 48 * 4
