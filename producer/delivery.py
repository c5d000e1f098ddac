"""Kafka delivery settings and the producer's heartbeat thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

import psycopg
from kafka import KafkaProducer

from heliosgrid.db.connection import DatabaseUnavailable, open_connection
from heliosgrid.settings import redact_url

log = logging.getLogger("heliosgrid.producer")

HEARTBEAT_COMPONENT = "producer"


def build_kafka_producer(bootstrap_servers: str, linger_ms: int, client_id: str = "heliosgrid-producer") -> KafkaProducer:
    """KafkaProducer with the durability settings of ADR 0011 (acks=all, idempotent, gzip)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=linger_ms,
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=5,
        request_timeout_ms=30_000,
        delivery_timeout_ms=120_000,
        max_block_ms=60_000,
    )


class Heartbeat(threading.Thread):
    """Writes the ``heartbeats`` row every interval while a database is reachable."""

    def __init__(self, url: str, instance: str, interval_s: float, details: Callable[[], dict[str, Any]]) -> None:
        super().__init__(name="producer-heartbeat", daemon=True)
        self.url, self.instance, self.interval_s, self.details = url, instance, interval_s, details
        self.stop_event = threading.Event()
        self._warned = False

    def beat(self, status: Literal["ok", "degraded", "stopping", "failed"]) -> None:
        from heliosgrid.db.writer import write_heartbeat

        try:
            with open_connection(self.url, autocommit=True, connect_timeout_s=5) as conn:
                write_heartbeat(conn, HEARTBEAT_COMPONENT, self.instance, status, self.details())
            self._warned = False
        except (DatabaseUnavailable, psycopg.Error) as exc:  # a DB outage must not kill the producer
            if not self._warned:
                log.warning("heartbeat not written (database unavailable?): %s", redact_url(str(exc)).strip())
                self._warned = True

    def run(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            self.beat("ok")

    def stop(self, status: Literal["stopping", "failed"]) -> None:
        """Stop the periodic beats, wait for one in flight, then write the final ``status``: written without the
        wait, an "ok" that was already connecting could land after it and leave the producer "ok" for good (seen
        under load in the producer's integration test)."""
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout=10.0)
        self.beat(status)
