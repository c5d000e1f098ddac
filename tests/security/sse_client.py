"""A minimal SSE client thread for the security tests: collects (event, data) pairs."""

from __future__ import annotations

import json
import threading
import time
from queue import Empty, Queue
from typing import Any

import httpx


class SseListener:
    """Reads ``url`` in a daemon thread; ``events`` gets ``(event, data)``; ``closed`` is set when
    the server ends the stream."""

    def __init__(self, url: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        self.events: Queue[tuple[str, Any]] = Queue()
        self.closed = threading.Event()
        self.status: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, params or {}, headers or {}), daemon=True)

    def __enter__(self) -> SseListener:
        self._thread.start()
        self.wait_for("ready")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self, url: str, params: dict[str, str], headers: dict[str, str]) -> None:
        try:
            with httpx.stream("GET", url, params=params, headers=headers, timeout=httpx.Timeout(60, read=60)) as resp:
                self.status = resp.status_code
                event = None
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event:
                        self.events.put((event, json.loads(line[6:])))
        except httpx.HTTPError:
            pass
        finally:
            self.closed.set()

    def wait_for(self, kind: str, timeout_s: float = 15) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                event, data = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except Empty:
                raise AssertionError(f"no {kind!r} event within {timeout_s} s (status {self.status})") from None
            if event == kind:
                return data

    def collect(self, kind: str, count: int, timeout_s: float) -> list[Any]:
        """Up to ``count`` ``kind`` events, waiting at most ``timeout_s`` in total."""
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            try:
                event, data = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except Empty:
                break
            if event == kind:
                out.append(data)
        return out
