"""The SSE stream delivers readings and alert changes committed after subscription."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from queue import Empty, Queue

import httpx
import psycopg
import pytest
from api_seed import Seeded

pytestmark = pytest.mark.integration


def _listen(url: str, params: dict[str, str], out: Queue[tuple[str, dict[str, object]]], stop: threading.Event) -> None:
    with httpx.stream("GET", url, params=params, timeout=httpx.Timeout(30, read=30)) as resp:
        out.put(("status", {"code": resp.status_code, "type": resp.headers.get("content-type", "")}))
        event = None
        for line in resp.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event:
                out.put((event, json.loads(line[6:])))
                if event == "alert":  # the last event this test waits for: hang up
                    return


def _next(q: Queue[tuple[str, dict[str, object]]], kind: str, timeout_s: float = 15) -> dict[str, object]:
    while True:
        try:
            event, data = q.get(timeout=timeout_s)
        except Empty:
            raise AssertionError(f"no {kind!r} event within {timeout_s} s") from None
        if event == kind:
            return data


def test_stream_delivers_reading_and_alert_inserted_after_subscription(api: str, keys: dict[str, str], seeded: Seeded) -> None:
    q: Queue[tuple[str, dict[str, object]]] = Queue()
    stop = threading.Event()
    # as the dashboard does: a short-lived stream token (EventSource cannot send the key in a header)
    token = httpx.post(api + "/v1/stream/token", headers={"Authorization": f"Bearer {keys['read']}"}).json()["token"]
    t = threading.Thread(target=_listen, args=(api + "/v1/stream", {"token": token, "site_id": "alpha"}, q, stop),
                         daemon=True)
    t.start()
    status = _next(q, "status")
    assert status["code"] == 200 and str(status["type"]).startswith("text/event-stream")
    _next(q, "ready")
    with psycopg.connect(seeded.url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO readings (device_id, ts, site_id, ac_power_kw, inverter_status, seq) VALUES "
            "('beta-inv1', %s, 'beta', 1.0, 'ok', 90000), ('alpha-inv1', %s, 'alpha', 55.5, 'ok', 90001)",
            (seeded.now + timedelta(seconds=1), seeded.now + timedelta(seconds=2)),
        )
        conn.execute("UPDATE alerts SET severity = 'critical', updated_at = now() WHERE alert_id = %s",
                     (seeded.open_alert_ids[0],))
    reading = _next(q, "reading")
    assert reading["device_id"] == "alpha-inv1" and reading["ac_power_kw"] == 55.5  # beta filtered out by site_id
    alert = _next(q, "alert")
    assert alert["alert_id"] == seeded.open_alert_ids[0] and alert["severity"] == "critical"
    stop.set()


def test_open_streams_per_key_are_capped(seeded: Seeded, keys: dict[str, str]) -> None:
    from api_seed import ServerThread

    from heliosgrid.settings import load_settings
    from tests.helpers import free_port

    with ServerThread(seeded.url, free_port(), load_settings(), max_streams_per_key=1) as server:
        url = server.base_url + "/v1/stream"
        with httpx.stream("GET", url, headers={"X-API-Key": keys["read"]}, timeout=10) as first:
            assert first.status_code == 200
            second = httpx.get(url, headers={"X-API-Key": keys["read"]}, timeout=10)
            assert second.status_code == 429 and "open streams (limit 1)" in second.json()["detail"]
            with httpx.stream("GET", url, headers={"X-API-Key": keys["write"]}, timeout=10) as other_key:
                assert other_key.status_code == 200  # another key has its own budget
        # once the first stream is closed (noticed within a poll interval) the slot is free again
        deadline = time.monotonic() + 10
        while True:
            with httpx.stream("GET", url, headers={"X-API-Key": keys["read"]}, timeout=10) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "stream slot was never released"
            time.sleep(0.2)
