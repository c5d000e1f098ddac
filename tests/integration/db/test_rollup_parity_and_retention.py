"""Parity of the rollups between plain PostgreSQL and TimescaleDB, and retention on both.

The same generated readings — several devices over a few days, with gaps, NULLs for the
measures a device does not have, late rows arriving after a first refresh and duplicate keys
re-upserted with new values — must give identical ``readings_15m``/``1h``/``1d`` on both
backends (every column; floats to a relative tolerance of 1e-9), and those rollups must match
an independent computation in Python.

Data on the shared TimescaleDB server uses device ids and years (2001, 2002) no other test uses.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from heliosgrid.db.connection import open_connection
from heliosgrid.db.retention import seed_policies, set_policy
from heliosgrid.db.rollups import apply_retention, ensure_partitions, refresh_rollups
from heliosgrid.settings import load_settings
from tests.helpers import wait_for_policy_jobs

pytestmark = pytest.mark.integration

Row = tuple[Any, ...]
COLUMNS = ("device_id", "ts", "site_id", "ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c",
           "dc_power_kw", "ac_power_kw", "inverter_status", "seq")
ROLLUP_COLUMNS = (
    "device_id", "site_id", "bucket", "sample_count", "completeness",
    *[f"{m}_{a}" for m in ("ghi_w_m2", "poa_w_m2", "ambient_temp_c", "module_temp_c", "dc_power_kw", "ac_power_kw")
      for a in ("avg", "min", "max")],
    "energy_kwh", "poa_irradiation_kwh_m2", "status_ok_count",
)
INSERT = f"""
INSERT INTO readings ({", ".join(COLUMNS)})
SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::float8[], %s::float8[], %s::float8[],
                     %s::float8[], %s::float8[], %s::float8[], %s::text[], %s::int8[])
ON CONFLICT (device_id, ts) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])}, ingested_at = now()
"""

PARITY_DEVICES = {"par-inv-1": "inverter", "par-inv-2": "inverter", "par-ws-1": "weather_station"}
PARITY_START = datetime(2002, 3, 1, tzinfo=UTC)
PARITY_END = PARITY_START + timedelta(days=2, hours=7)  # the last day is partial
LEVELS = ("readings_15m", "readings_1h", "readings_1d")


def _reading(rng: random.Random, device: str, ts: datetime, seq: int) -> Row:
    """One plausible reading; weather stations have no power/status, inverters no GHI."""
    hour = ts.hour + ts.minute / 60
    sun = max(0.0, math.sin(math.pi * (hour - 6) / 12))
    poa = round(1000 * sun * rng.uniform(0.7, 1.0), 3)
    ambient = round(10 + 8 * sun + rng.gauss(0, 0.5), 3)
    module = round(ambient + 0.03 * poa, 3)
    null = lambda v: None if rng.random() < 0.03 else v  # noqa: E731 - random sensor dropouts
    if PARITY_DEVICES.get(device, "inverter") == "weather_station":
        return (device, ts, "par-site", null(round(poa * 0.9, 3)), null(poa), null(ambient), null(module),
                None, None, None, seq)
    ac = round(poa * 0.05 * rng.uniform(0.9, 1.0), 4) if poa > 0 else 0.0
    status = "ok" if poa > 0 else "standby"
    if rng.random() < 0.01:
        status, ac = "fault", 0.0
    return (device, ts, "par-site", None, null(poa), None, null(module), null(round(ac / 0.96, 4)), null(ac),
            status, seq)


def _generate(seed: int = 7) -> tuple[dict[tuple[str, datetime], Row], dict[tuple[str, datetime], Row],
                                      dict[tuple[str, datetime], Row]]:
    """(initial rows, late rows, re-upserted duplicates with new values), keyed by (device, ts)."""
    rng = random.Random(seed)
    initial: dict[tuple[str, datetime], Row] = {}
    late: dict[tuple[str, datetime], Row] = {}
    outage = (PARITY_START + timedelta(hours=30), PARITY_START + timedelta(hours=32))
    late_bucket = (PARITY_START + timedelta(hours=11), PARITY_START + timedelta(hours=11, minutes=15))
    for device in PARITY_DEVICES:
        ts, seq = PARITY_START, 0
        while ts < PARITY_END:
            seq += 1
            row = _reading(rng, device, ts, seq)
            if device == "par-inv-2" and outage[0] <= ts < outage[1]:
                pass  # a two-hour gap that never arrives
            elif rng.random() < 0.05:
                pass  # isolated missing samples
            elif (device == "par-inv-1" and late_bucket[0] <= ts < late_bucket[1]) or rng.random() < 0.02:
                late[(device, ts)] = row  # arrives after the first refresh
            else:
                initial[(device, ts)] = row
            ts += timedelta(minutes=1)
    updates = {}
    for key in rng.sample(sorted(initial), 150):
        old = initial[key]
        updates[key] = _reading(rng, key[0], key[1], old[-1] + 100_000)
    return initial, late, updates


def _insert(conn: psycopg.Connection, rows: Sequence[Row], batch_rows: int = 500) -> None:
    """Upsert ``rows``; batches stay small because PGlite crashes on very large messages (~2000 rows)."""
    ensure_partitions(conn, "readings", min(r[1] for r in rows), max(r[1] for r in rows))
    for i in range(0, len(rows), batch_rows):
        conn.execute(INSERT, [list(c) for c in zip(*rows[i : i + batch_rows], strict=True)])


def _rollups(conn: psycopg.Connection, devices: Sequence[str]) -> dict[str, list[Row]]:
    return {
        level: conn.execute(
            f"SELECT {', '.join(ROLLUP_COLUMNS)} FROM {level} WHERE device_id = ANY(%s) ORDER BY device_id, bucket",
            (list(devices),),
        ).fetchall()
        for level in LEVELS
    }


def _load_and_refresh(
    conn: psycopg.Connection, compress: bool = False
) -> tuple[dict[str, list[Row]], dict[str, list[Row]]]:
    """Load, refresh, load late rows and updates, refresh again; returns (first, final) rollups.

    ``compress`` (TimescaleDB): compress every raw chunk after the first refresh, so the late rows
    and the updates are upserted into compressed chunks.
    """
    initial, late, updates = _generate()
    window = {"start": PARITY_START - timedelta(days=1), "end": PARITY_END + timedelta(days=1)}
    _insert(conn, list(initial.values()))
    refresh_rollups(conn, **window)
    first = _rollups(conn, list(PARITY_DEVICES))
    assert first["readings_15m"], "first refresh materialised nothing"
    if compress:
        chunks = conn.execute("SELECT compress_chunk(c) FROM show_chunks('readings', newer_than => %s) c",
                              (PARITY_START - timedelta(days=1),)).fetchall()
        assert len(chunks) == 3  # the three UTC days of the parity data
    _insert(conn, list(late.values()))
    _insert(conn, list(updates.values()))
    refresh_rollups(conn, **window)
    return first, _rollups(conn, list(PARITY_DEVICES))


def _delete_devices(conn: psycopg.Connection, devices: Sequence[str], start: datetime, end: datetime) -> None:
    conn.execute("DELETE FROM readings WHERE device_id = ANY(%s)", (list(devices),))
    refresh_rollups(conn, start=start, end=end)


@pytest.fixture(scope="module")
def parity_results(fresh_db: Callable[..., str], timescale_db: str, request: pytest.FixtureRequest
                   ) -> Iterator[dict[str, dict[str, list[Row]]]]:
    """Final rollups per backend (keys ``postgres``/``timescaledb``) and after the first refresh
    (keys ``postgres/first``/``timescaledb/first``); on native TimescaleDB also
    ``timescaledb-compressed`` (late rows and updates upserted into compressed chunks)."""
    results: dict[str, dict[str, list[Row]]] = {}
    if request.getfixturevalue("timescale_server").native:
        with open_connection(request.getfixturevalue("timescale_module_db"), autocommit=True) as conn:
            _first, results["timescaledb-compressed"] = _load_and_refresh(conn, compress=True)
    with open_connection(fresh_db(), autocommit=True) as conn:
        results["postgres/first"], results["postgres"] = _load_and_refresh(conn)
    with open_connection(timescale_db, autocommit=True) as conn:
        _delete_devices(conn, list(PARITY_DEVICES), PARITY_START - timedelta(days=1), PARITY_END + timedelta(days=1))
        results["timescaledb/first"], results["timescaledb"] = _load_and_refresh(conn)
    yield results
    with open_connection(timescale_db, autocommit=True) as conn:
        _delete_devices(conn, list(PARITY_DEVICES), PARITY_START - timedelta(days=1), PARITY_END + timedelta(days=1))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


@pytest.mark.parametrize("variant", ["timescaledb", "timescaledb-compressed"])
@pytest.mark.parametrize("level", LEVELS)
def test_rollups_are_identical_on_both_backends(
    parity_results: dict[str, dict[str, list[Row]]], level: str, variant: str
) -> None:
    if variant not in parity_results:
        pytest.skip("compression parity needs native TimescaleDB (PGlite: one shared database)")
    pg, ts = parity_results["postgres"][level], parity_results[variant][level]
    assert len(pg) == len(ts)
    assert [r[:3] for r in pg] == [r[:3] for r in ts]
    for pg_row, ts_row in zip(pg, ts, strict=True):
        for name, a, b in zip(ROLLUP_COLUMNS, pg_row, ts_row, strict=True):
            assert _same(a, b), f"{level} {pg_row[0]} {pg_row[2]} {name}: postgres={a!r} timescaledb={b!r}"


def test_rollups_match_an_independent_computation(parity_results: dict[str, dict[str, list[Row]]]) -> None:
    initial, late, updates = _generate()
    final = {**initial, **late, **updates}
    by_15m: dict[tuple[str, datetime], list[Row]] = defaultdict(list)
    for (device, ts), row in final.items():
        by_15m[(device, ts - timedelta(minutes=ts.minute % 15))].append(row)
    got = {(r[0], r[2]): dict(zip(ROLLUP_COLUMNS, r, strict=True)) for r in parity_results["postgres"]["readings_15m"]}
    assert set(got) == set(by_15m)
    for key, rows in by_15m.items():
        rollup = got[key]
        assert rollup["sample_count"] == len(rows)
        assert math.isclose(rollup["completeness"], min(1.0, len(rows) / 15), rel_tol=1e-12)
        ac = [r[8] for r in rows if r[8] is not None]
        if ac:
            assert math.isclose(rollup["ac_power_kw_avg"], sum(ac) / len(ac), rel_tol=1e-9, abs_tol=1e-12)
            assert math.isclose(rollup["energy_kwh"], sum(ac) / len(ac) * 0.25, rel_tol=1e-9, abs_tol=1e-12)
            assert rollup["ac_power_kw_max"] == max(ac)
        else:
            assert rollup["ac_power_kw_avg"] is None and rollup["energy_kwh"] is None
        assert rollup["status_ok_count"] == sum(1 for r in rows if r[9] == "ok")
    # the daily rollup counts every raw sample once (late rows in, duplicates not twice)
    per_day: dict[tuple[str, datetime], int] = defaultdict(int)
    for device, ts in final:
        per_day[(device, ts.replace(hour=0, minute=0))] += 1
    daily = {(r[0], r[2]): r[3] for r in parity_results["timescaledb"]["readings_1d"]}
    assert daily == per_day
    hourly_energy = sum(r[ROLLUP_COLUMNS.index("energy_kwh")] or 0.0 for r in parity_results["postgres"]["readings_1h"])
    quarter_energy = sum(r["energy_kwh"] or 0.0 for r in got.values())
    assert math.isclose(hourly_energy, quarter_energy, rel_tol=1e-9)


def test_late_and_updated_rows_changed_the_rollups(parity_results: dict[str, dict[str, list[Row]]]) -> None:
    """A bucket that arrived entirely late appears; updated values replace the old ones."""
    _initial, late, _updates = _generate()
    late_bucket = PARITY_START + timedelta(hours=11)
    expected = sum(1 for (d, ts) in late if d == "par-inv-1" and late_bucket <= ts < late_bucket + timedelta(minutes=15))
    assert expected >= 10
    for backend in ("postgres", "timescaledb"):
        first = {(r[0], r[2]): r for r in parity_results[f"{backend}/first"]["readings_15m"]}
        final = {(r[0], r[2]): r for r in parity_results[backend]["readings_15m"]}
        assert ("par-inv-1", late_bucket) not in first
        assert final[("par-inv-1", late_bucket)][3] == expected
        changed = [k for k in first if first[k] != final[k]]
        assert len(changed) >= 100, f"{backend}: late rows and updates changed only {len(changed)} buckets"


# --- retention ----------------------------------------------------------------------------------

RET_DEVICE = "ret-inv-1"
AS_OF = datetime(2001, 6, 1, 13, 0, tzinfo=UTC)  # mid-day: the raw cutoff falls inside a day chunk
RET_START = AS_OF - timedelta(days=60)


def _floor_day(ts: datetime) -> datetime:
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(params=["postgres", "timescaledb"])
def retention_conn(request: pytest.FixtureRequest, fresh_db: Callable[..., str]) -> Iterator[psycopg.Connection]:
    settings = load_settings()
    # native TimescaleDB: the module's own database, because the policy jobs this test creates run
    # by themselves and drop every chunk older than their interval (measured from now)
    url = fresh_db() if request.param == "postgres" else request.getfixturevalue("timescale_module_db")
    with open_connection(url, autocommit=True) as conn:
        seed_policies(conn, settings)
        _delete_devices(conn, [RET_DEVICE], RET_START - timedelta(days=1), AS_OF + timedelta(days=1))
        try:
            yield conn
        finally:
            set_policy(conn, "readings", drop_after=settings.retention_raw_days * timedelta(days=1))
            set_policy(conn, "readings_15m", drop_after=settings.retention_15m_days * timedelta(days=1))
            _delete_devices(conn, [RET_DEVICE], RET_START - timedelta(days=1), AS_OF + timedelta(days=1))


def test_retention_drops_only_data_older_than_the_policy(retention_conn: psycopg.Connection) -> None:
    conn = retention_conn
    set_policy(conn, "readings", drop_after=timedelta(days=30))
    set_policy(conn, "readings_15m", drop_after=timedelta(days=10))
    # native: the new jobs run about 1 s after creation (measured from now, i.e. before these
    # 2001 rows exist) and not again for a day, so apply_retention(AS_OF) below is the only drop
    wait_for_policy_jobs(conn)
    rng = random.Random(3)
    rows, ts, seq = [], RET_START, 0
    while ts <= AS_OF:
        seq += 1
        rows.append(_reading(rng, RET_DEVICE, ts, seq))
        ts += timedelta(minutes=30)
    _insert(conn, rows)
    refresh_rollups(conn, start=RET_START - timedelta(days=1), end=AS_OF + timedelta(days=1))
    before = _rollups(conn, [RET_DEVICE])
    raw_before = [r[0] for r in conn.execute(
        "SELECT ts FROM readings WHERE device_id = %s ORDER BY ts", (RET_DEVICE,)).fetchall()]

    dropped = apply_retention(conn, AS_OF)

    assert {d.relation for d in dropped} == {"readings", "readings_15m"}
    raw_cutoff = AS_OF - timedelta(days=30)
    raw_after = [r[0] for r in conn.execute(
        "SELECT ts FROM readings WHERE device_id = %s ORDER BY ts", (RET_DEVICE,)).fetchall()]
    # both backends keep raw data in UTC-day chunks/partitions: a day survives until it is
    # entirely older than the cutoff, and nothing at or after the cutoff is touched
    assert raw_after == [t for t in raw_before if t >= _floor_day(raw_cutoff)]
    assert [t for t in raw_after if t >= raw_cutoff] == [t for t in raw_before if t >= raw_cutoff]
    assert raw_after[0] < raw_cutoff

    after = _rollups(conn, [RET_DEVICE])
    cutoff_15m = AS_OF - timedelta(days=10)
    assert [r for r in after["readings_15m"] if r[2] >= cutoff_15m] == [
        r for r in before["readings_15m"] if r[2] >= cutoff_15m
    ]
    # partitions/chunks are at most a month long: everything older than that before the cutoff is gone
    assert not [r for r in after["readings_15m"] if r[2] < cutoff_15m - timedelta(days=31)]
    assert len(after["readings_15m"]) < len(before["readings_15m"])
    # no policy on hourly/daily rollups, and dropping raw data never alters them
    assert after["readings_1h"] == before["readings_1h"]
    assert after["readings_1d"] == before["readings_1d"]
    assert after["readings_1h"][0][2] < raw_cutoff - timedelta(days=20)

    assert apply_retention(conn, AS_OF) == []  # idempotent
