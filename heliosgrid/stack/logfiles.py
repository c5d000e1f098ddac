"""Component log files of the local stack: private (0600 in a 0700 directory), rotated, tailed.

Logs can hold what a component prints about its configuration or a client's request, so they
are created owner-only whatever the umask, and a file left from an older stack with wider
permissions is tightened when it is next opened.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from heliosgrid.settings import redact_url

LOG_TAIL_LINES = 15
#: A component's log is moved to ``<name>.log.1`` (replacing it) when it starts with a log larger than this.
LOG_ROTATE_BYTES = 64 * 1024 * 1024
LOG_FILE_MODE = 0o600
LOG_DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed and make it owner-only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, LOG_DIR_MODE)


def open_private(path: Path, binary: bool = True) -> IO[Any]:
    """Open ``path`` for appending, created 0600 (not subject to the umask's group/other bits),
    and reset to 0600 if it already existed with other permissions."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_FILE_MODE)
    os.fchmod(fd, LOG_FILE_MODE)
    if binary:
        return os.fdopen(fd, "ab")
    return os.fdopen(fd, "a", encoding="utf-8")


def rotate_if_large(path: Path, max_bytes: int = LOG_ROTATE_BYTES) -> None:
    """Move ``path`` to ``<path>.1`` (replacing it) when it is larger than ``max_bytes``."""
    try:
        if path.stat().st_size > max_bytes:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``path`` (at most 16 KiB read), URLs' passwords redacted."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16_384))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return redact_url("\n".join(text.splitlines()[-lines:]))
