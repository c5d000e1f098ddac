"""Command-line entry of the consumer service (shared by ``python -m consumer`` and ``heliosgrid consumer run``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from consumer.checkpoint import AfterDbCommit
from consumer.service import EXIT_CONFIG, EXIT_DB_UNAVAILABLE, IngestService
from heliosgrid.db.connection import DatabaseUnavailable, resolve_database_url
from heliosgrid.settings import SettingsError, load_settings, redact_url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m consumer",
        description="HeliosGrid ingest consumer: Kafka readings → PostgreSQL/TimescaleDB "
        "(configured by HELIOS_* environment variables).",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Sequence[str] | None = None, early_signals: Sequence[int] = (),
         after_db_commit: AfterDbCommit | None = None) -> int:
    """Run the consumer; returns the process exit status.

    ``early_signals`` are stop signals received before this function installed its handlers.
    ``after_db_commit`` is passed to :class:`IngestService` (tests inject a crash there).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        url = resolve_database_url(settings)
    except (DatabaseUnavailable, OSError) as exc:
        print(f"error: {redact_url(str(exc))}", file=sys.stderr)
        return EXIT_DB_UNAVAILABLE
    service = IngestService(settings, url, after_db_commit=after_db_commit)

    def _stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("heliosgrid.consumer").info(
            "%s received: finishing the current batch", signal.Signals(signum).name
        )
        service.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if early_signals:
        _stop(early_signals[0], None)
    return service.run()
