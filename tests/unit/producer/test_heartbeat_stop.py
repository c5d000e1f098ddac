"""The producer's last heartbeat is its final status, never an "ok" that was still being written."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from producer import delivery


def test_the_final_status_is_written_after_a_beat_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    in_flight = threading.Event()

    @contextlib.contextmanager
    def fake_connection(*_: Any, **__: Any) -> Iterator[None]:
        yield None

    def slow_write(_conn: Any, _component: str, _instance: str, status: str, _details: dict[str, Any]) -> None:
        if status == "ok":
            in_flight.set()
            time.sleep(0.3)  # a connection that takes its time under load
        written.append(status)

    monkeypatch.setattr(delivery, "open_connection", fake_connection)
    monkeypatch.setattr("heliosgrid.db.writer.write_heartbeat", slow_write)
    beat = delivery.Heartbeat("postgresql://unused", "p1", 0.01, lambda: {})
    beat.start()
    assert in_flight.wait(2.0)
    beat.stop("stopping")
    assert written[-1] == "stopping" and not beat.is_alive()
