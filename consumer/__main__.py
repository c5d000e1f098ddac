"""``python -m consumer``: run one ingest consumer-group member until SIGTERM/SIGINT.

Configuration comes only from ``HELIOS_*`` environment variables (see ``heliosgrid/settings.py``).
Exit status: 0 after a requested stop, 2 bad configuration / broker unreachable,
3 database unavailable past ``HELIOS_DB_RETRY_BUDGET_S``, 4 dead-letter topic unavailable.
"""

from __future__ import annotations

import sys

from consumer.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
