"""``python -m consumer``: run one ingest consumer-group member until SIGTERM/SIGINT.

Configuration comes only from ``HELIOS_*`` environment variables (see ``heliosgrid/settings.py``).
Exit status: 0 after a requested stop, 2 bad configuration / broker unreachable,
3 database unavailable past ``HELIOS_DB_RETRY_BUDGET_S``, 4 dead-letter topic unavailable.
"""

from __future__ import annotations

import signal
import sys

# Record a stop request that arrives while the heavy imports below are still running, so that
# an early SIGTERM still means "stop cleanly, exit 0" rather than the default termination.
_early_signals: list[int] = []
signal.signal(signal.SIGTERM, lambda signum, frame: _early_signals.append(signum))
signal.signal(signal.SIGINT, lambda signum, frame: _early_signals.append(signum))

from consumer.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], early_signals=_early_signals))
