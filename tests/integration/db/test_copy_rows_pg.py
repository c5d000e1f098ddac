"""Pre-encoded COPY rows (the consumer's writer, ADR 0280) store exactly what streamed rows store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.pq import TransactionStatus

from heliosgrid.db.connection import open_connection
from heliosgrid.db.writer import READING_COLUMNS, ReadingRow, encode_copy_rows, write_batch, write_heartbeat, write_rows
from heliosgrid.ingest.batch import DecodedBatch, DeviceRegistry, RawMessage
from heliosgrid.ingest.store import prepare_batch, store_batch
from heliosgrid.ingest.synthetic import fleet_ids, register_devices

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
_COLS = ", ".join(READING_COLUMNS)
_TEMP = (
    "CREATE TEMP TABLE IF NOT EXISTS copy_check (device_id text, ts timestamptz, site_id text, ghi_w_m2 float8, "
    "poa_w_m2 float8, ambient_temp_c float8, module_temp_c float8, dc_power_kw float8, ac_power_kw float8, "
    "inverter_status text, seq int8)"
)

floats = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
rows_strategy = st.lists(
    st.tuples(texts, st.integers(0, 10**6), st.sampled_from([0, 60, -330]), texts, floats, floats, floats, floats,
              floats, floats, st.none() | texts, st.integers(-(2**63), 2**63 - 1)),
    max_size=40,
)


def _row(spec: tuple[Any, ...]) -> ReadingRow:
    device, minutes, offset_min, site, *values, status, seq = spec
    ts = (T0 + timedelta(minutes=minutes)).astimezone(timezone(timedelta(minutes=offset_min)))
    return (device, ts, site, *values, status, seq)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def pg(pg_db: str) -> Any:
    with open_connection(pg_db, autocommit=True) as conn:
        conn.execute(_TEMP)
        yield conn


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows_strategy)
def test_the_encoded_stream_copies_back_to_the_same_rows(pg: psycopg.Connection[Any], specs: list[Any]) -> None:
    rows = [_row(s) for s in specs]
    with pg.transaction(), pg.cursor() as cur:
        cur.execute("TRUNCATE copy_check")
        with cur.copy(f"COPY copy_check ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(encode_copy_rows(rows).payload)
        got = cur.execute(f"SELECT {_COLS} FROM copy_check").fetchall()
    assert got == rows  # timestamps compare as instants; text, NULLs, floats and int8 exact


@pytest.mark.parametrize("encoded", [True, False])
def test_write_batch_stores_rows_and_tail_in_one_transaction_and_is_idempotent(pg: psycopg.Connection[Any],
                                                                               encoded: bool) -> None:
    devices = fleet_ids(f"c{uuid.uuid4().hex[:6]}", 1, 3)
    with pg.transaction():
        register_devices(pg, devices)
    rows: list[ReadingRow] = [(d, T0 + timedelta(days=m), s, 1.0, 2.0 + m, None, 4.0, 5.0, 6.0, "ok", m)
                              for m in range(3) for d, s in devices]  # three daily partitions
    beat = f"b{uuid.uuid4().hex[:6]}"
    batch = encode_copy_rows(rows) if encoded else rows
    assert write_batch(pg, batch, lambda c: write_heartbeat(c, "test", beat, "ok", {})) == len(rows)
    assert pg.info.transaction_status == TransactionStatus.IDLE
    table = pg.execute(f"SELECT {_COLS} FROM readings WHERE device_id LIKE %s",
                       (devices[0][0][:8] + "%",)).fetchall()
    assert sorted(table, key=lambda r: (r[1], r[0])) == sorted(rows, key=lambda r: (r[1], r[0]))
    assert pg.execute("SELECT count(*) FROM heartbeats WHERE instance = %s", (beat,)).fetchone() == (1,)
    assert write_batch(pg, batch) == 0  # the same rows again: nothing changes
    with pg.transaction():
        assert write_rows(pg, rows) == 0


def test_write_batch_rolls_back_everything_on_an_error(pg: psycopg.Connection[Any]) -> None:
    devices = fleet_ids(f"r{uuid.uuid4().hex[:6]}", 1, 1)
    with pg.transaction():
        register_devices(pg, devices)
    (d, s), = devices
    rows: list[ReadingRow] = [(d, T0, s, None, 1.0, None, None, None, None, "ok", 1)]

    def failing_tail(c: psycopg.Connection[Any]) -> None:
        c.execute("SELECT 1 / 0")

    with pytest.raises(psycopg.errors.DivisionByZero):
        write_batch(pg, encode_copy_rows(rows), failing_tail)
    assert pg.info.transaction_status == TransactionStatus.IDLE
    assert pg.execute("SELECT count(*) FROM readings WHERE device_id = %s", (d,)).fetchone() == (0,)
    bad: list[ReadingRow] = [(d, T0, s + "\x00", None, 1.0, None, None, None, None, "ok", 1)]  # NUL: DataError
    with pytest.raises(psycopg.DataError):
        write_batch(pg, encode_copy_rows(bad))
    assert pg.info.transaction_status == TransactionStatus.IDLE
    assert write_batch(pg, rows) == 1  # the connection is usable again


def test_prepared_batch_stores_what_the_writer_would_and_defers_unknown_devices(pg: psycopg.Connection[Any]) -> None:
    devices = fleet_ids(f"p{uuid.uuid4().hex[:6]}", 1, 2)
    with pg.transaction():
        register_devices(pg, devices)
    registry = DeviceRegistry()
    registry.load(pg)
    (d0, s0), (d1, _s1) = devices
    rows: list[ReadingRow] = [(d0, T0, s0, None, 1.0, None, None, None, None, "ok", 1),
                              (d0, T0, s0, None, 2.0, None, None, None, None, "ok", 2),  # same key, higher seq
                              (d1, T0, "elsewhere", None, 3.0, None, None, None, None, "ok", 1)]  # wrong site
    sources = [RawMessage("t", 0, i, b"k", b"v") for i in range(3)]
    decoded = DecodedBatch(rows=rows, sources=list(sources))
    prepared = prepare_batch(decoded, registry)
    assert prepared is not None
    assert [r[4] for r in prepared.copy.rows] == [2.0]
    assert [q.reason_code for q in prepared.outcome.rejects] == ["unknown_device"]
    stored = store_batch(pg, decoded, registry, lambda _c, _o: None, prepared)
    assert (stored.result.rows_received, stored.result.duplicates_in_batch, stored.result.rows_upserted) == (2, 1, 1)
    assert pg.execute("SELECT poa_w_m2 FROM readings WHERE device_id = %s", (d0,)).fetchall() == [(2.0,)]
    unknown = DecodedBatch(rows=[("nobody", T0, s0, *[None] * 6, "ok", 1)], sources=[sources[0]])  # type: ignore[list-item]
    assert prepare_batch(unknown, registry) is None  # the writer re-reads the registry first
