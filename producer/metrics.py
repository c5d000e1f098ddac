"""Prometheus metrics of the producer (optional: ``--metrics-port N`` serves ``/metrics``)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class ProducerMetrics:
    """Counters and gauges of one producer process, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "heliosgrid_producer_messages", "Messages handed to Kafka, by kind ('good' or a bad-traffic kind)",
            ["kind"], registry=self.registry,
        )
        self.delivery_errors = Counter(
            "heliosgrid_producer_delivery_errors", "Messages the broker did not acknowledge", registry=self.registry
        )
        self.last_reading_ts = Gauge(
            "heliosgrid_producer_last_reading_timestamp_seconds", "Sensor time of the newest reading sent (Unix s)",
            registry=self.registry,
        )
        self.behind = Gauge(
            "heliosgrid_producer_behind_wall_clock_seconds", "Wall clock minus the newest reading's sensor time (s)",
            registry=self.registry,
        )
        self.behind.set_function(self._behind)
        self._last_ts_s = 0.0

    def _behind(self) -> float:
        return max(0.0, time.time() - self._last_ts_s) if self._last_ts_s else 0.0

    def good(self, ts_ns: int) -> None:
        """Count one good reading with sensor time ``ts_ns`` (ns since the epoch)."""
        self.messages.labels(kind="good").inc()
        self._last_ts_s = ts_ns / 1e9
        self.last_reading_ts.set(self._last_ts_s)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``host:port`` in a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)
