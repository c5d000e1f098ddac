"""``python tests/integration/consumer/crashing_consumer.py N``: the real consumer, killed by itself.

Runs :func:`consumer.main.main` (configured by ``HELIOS_*`` like ``python -m consumer``) with an
injected ``after_db_commit`` hook that ``os._exit(137)``s right after the N-th database commit,
before that batch's dead letters and offsets: the worst moment for an at-least-once consumer.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from consumer.main import main


def crash_after(n: int) -> None:
    def hook(db_commits: int) -> None:
        if db_commits >= n:
            logging.getLogger("heliosgrid.consumer").warning(
                "test hook after DB commit %d: exiting with 137 between DB commit and offset commit", db_commits)
            logging.shutdown()
            os._exit(137)

    sys.exit(main([], after_db_commit=hook))


if __name__ == "__main__":
    crash_after(int(sys.argv[1]))
