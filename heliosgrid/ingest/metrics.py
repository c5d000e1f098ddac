"""Prometheus metrics of the ingest consumer (prometheus-client, one registry per process).

Exposed on ``/metrics`` at ``Settings.consumer_metrics_port`` (0 = off). Names follow the
Prometheus conventions: units as suffixes, ``_total`` for counters. Rows per second is
``rate(helios_consumer_rows_written_total[1m])``; ``helios_consumer_rows_per_second`` is the
rate of the last batch for dashboards without PromQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000, 50000)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class ConsumerMetrics:
    """All consumer metrics, registered in their own :class:`CollectorRegistry`."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.lag = Gauge(
            "helios_consumer_lag_messages", "High watermark minus consumer position, per partition",
            ["topic", "partition"], registry=r,
        )
        self.batch_size = Histogram(
            "helios_consumer_batch_size_messages", "Messages per committed micro-batch",
            buckets=_BATCH_SIZE_BUCKETS, registry=r,
        )
        self.batch_latency = Histogram(
            "helios_consumer_batch_latency_seconds",
            "Time from the first message of a batch being polled to its offsets being committed",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.write_latency = Histogram(
            "helios_consumer_db_write_seconds", "Duration of the batch's database transaction",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.messages = Counter("helios_consumer_messages_total", "Messages consumed and committed", registry=r)
        self.rows_written = Counter(
            "helios_consumer_rows_written_total", "Readings upserted (after in-batch de-duplication)", registry=r
        )
        self.rows_per_s = Gauge(
            "helios_consumer_rows_per_second", "Readings per second over the last batch cycle", registry=r
        )
        self.rejects = Counter(
            "helios_consumer_rejects_total", "Messages sent to the DLQ and quarantine, by reason",
            ["reason"], registry=r,
        )
        self.db_retries = Counter("helios_consumer_db_retries_total", "Failed database attempts retried", registry=r)
        self.rebalances = Counter(
            "helios_consumer_rebalances_total", "Partition revocations seen (in-flight batch discarded)", registry=r
        )
        self.last_commit = Gauge(
            "helios_consumer_last_commit_timestamp_seconds", "Unix time of the last offset commit", registry=r
        )

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Start the ``/metrics`` HTTP server in a daemon thread (``port`` 0 does nothing)."""
        if port:
            start_http_server(port, addr=addr, registry=self.registry)
