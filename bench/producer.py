"""Producer benchmark: simulator, serialisation and delivery to a real (Tansu) broker.

Each figure comes with a baseline measured in the same run and their ratio:

* ``simulate_rows_per_s`` — full simulator (weather, noise, faults) on the demo fleet, 3 days;
  baseline ``pvlib_clearsky_rows_per_s``: the bare pvlib clear-sky power model on the same
  devices and times (the physics floor the simulator builds on).
* ``serialise_msgs_per_s`` — :func:`producer.messages.frame_to_messages`; baseline
  ``pydantic_encode_msgs_per_s``: building ``ReadingV1`` + ``encode_reading`` per row.
* ``producer_msgs_per_s`` — ``ProducerService`` backfill end to end into the broker (acks=all,
  idempotent, gzip), serialisation included; baseline ``raw_send_msgs_per_s``: a bare
  KafkaProducer with the same settings sending the same pre-built bytes.
"""

from __future__ import annotations

import math
import subprocess
import time
import uuid
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.contract import ReadingV1, encode_reading
from heliosgrid.physics import clearsky_ac_power_kw, demo_fleet

START = pd.Timestamp("2026-06-01T00:00Z")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bench_simulator() -> dict[str, Any]:
    from heliosgrid.simulation import simulate_fleet
    from heliosgrid.simulation.signals import site_day

    fleet = demo_fleet()
    end = START + pd.Timedelta(days=3)
    site_day.cache_clear()
    t0 = time.perf_counter()
    result = simulate_fleet(fleet, START, end, seed=1, faults="random")
    sim_s = time.perf_counter() - t0
    times = pd.date_range(START, end, freq="1min", inclusive="left")
    t0 = time.perf_counter()
    rows = 0
    for site in fleet:
        for dev in site.devices:
            clearsky_ac_power_kw(site, times, dev if dev.kind == "inverter" else site.inverters[0])
            rows += len(times)
    base_s = time.perf_counter() - t0
    return {
        "simulate_rows": len(result.readings),
        "simulate_rows_per_s": round(len(result.readings) / sim_s),
        "pvlib_clearsky_rows_per_s": round(rows / base_s),
        "simulate_ratio_to_pvlib_clearsky": round((len(result.readings) / sim_s) / (rows / base_s), 3),
        "readings": result.readings,
    }


def _bench_serialise(readings: pd.DataFrame) -> dict[str, Any]:
    from producer.messages import frame_to_messages

    frame = readings.head(100_000)
    t0 = time.perf_counter()
    messages = list(frame_to_messages(frame))
    fast_s = time.perf_counter() - t0
    sample = frame.head(10_000).to_dict("records")
    t0 = time.perf_counter()
    for row in sample:
        payload = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        payload["ts"] = row["ts"].to_pydatetime()
        encode_reading(ReadingV1.model_validate({"schema_version": 1, **payload}))
    slow_s = time.perf_counter() - t0
    fast = len(messages) / fast_s
    slow = len(sample) / slow_s
    return {"serialise_msgs_per_s": round(fast), "pydantic_encode_msgs_per_s": round(slow),
            "serialise_ratio": round(fast / slow, 2), "messages": messages}


def _bench_delivery(messages: list[Any]) -> dict[str, Any]:
    from heliosgrid.broker import ensure_topics, start_tansu
    from producer.service import ProducerService, RunConfig, build_kafka_producer

    port = _free_port()
    proc = start_tansu(port)
    bootstrap = f"127.0.0.1:{port}"
    try:
        raw_topic, svc_topic = f"bench.raw.{uuid.uuid4().hex[:6]}", f"bench.svc.{uuid.uuid4().hex[:6]}"
        ensure_topics(bootstrap, {raw_topic: 3, svc_topic: 3})
        n = min(len(messages), 50_000)
        producer = build_kafka_producer(bootstrap, linger_ms=20)
        producer.send(raw_topic, key=b"warm", value=b"{}").get(timeout=30)
        t0 = time.perf_counter()
        for msg in messages[:n]:
            producer.send(raw_topic, key=msg.key, value=msg.value)
        producer.flush(timeout=120)
        raw_s = time.perf_counter() - t0
        producer.close()
        fleet = demo_fleet()
        steps = math.ceil(n / sum(len(s.devices) for s in fleet))
        config = RunConfig(mode="backfill", topic=svc_topic, bootstrap_servers=bootstrap, start=START,
                           end=START + pd.Timedelta(minutes=steps), speed=math.inf, seed=1, partitions=3)
        service = ProducerService(config, fleet)
        t0 = time.perf_counter()
        stats = service.run()
        svc_s = time.perf_counter() - t0
        raw = n / raw_s
        svc = stats.good_sent / svc_s
        return {"raw_send_msgs_per_s": round(raw), "producer_msgs_per_s": round(svc),
                "producer_ratio_to_raw_send": round(svc / raw, 3), "producer_messages": stats.good_sent}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run() -> dict[str, Any]:
    sim = _bench_simulator()
    ser = _bench_serialise(sim.pop("readings"))
    delivery = _bench_delivery(ser.pop("messages"))
    return {**sim, **ser, **delivery}
