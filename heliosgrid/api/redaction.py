"""Keep credentials out of logs: a :class:`logging.Filter` that masks API keys and stream tokens.

No client should send a key in a URL (the API refuses it, see :mod:`heliosgrid.api.auth`), but
one that does still lands in uvicorn's access log as part of the request line. The filter
rewrites every record before any handler formats it: a full key ``hg_<key_id>_<secret>``
becomes ``hg_<key_id>_***`` (the public ``key_id`` stays, so the caller can be found), a stream
token ``hgst_<key_id>_<exp>_<mac>`` keeps only its key id too, and any ``key=`` / ``token=`` /
``api_key=`` query value is masked. Works on uvicorn's access records, whose ``args`` tuple
(client, method, path, version, status) the access formatter unpacks, by redacting each
string argument in place.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_KEY = re.compile(r"\bhg_([0-9a-f]{8})_[A-Za-z0-9_-]+")
_TOKEN = re.compile(r"\bhgst_([0-9a-f]{8})_[A-Za-z0-9_-]+")
_QUERY = re.compile(r"(?i)([?&](?:api_key|key|token)=)([^&\s\"']+)")
#: Loggers that see request lines or may log request data.
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "fastapi", "heliosgrid")


def _mask_query_value(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if _KEY.fullmatch(value) or _TOKEN.fullmatch(value) or value.endswith("_***"):
        return name + _TOKEN.sub(r"hgst_\1_***", _KEY.sub(r"hg_\1_***", value))
    return name + "***"


def redact(text: str) -> str:
    """``text`` with API keys, stream tokens and key/token query values masked (a key's public
    id stays visible, so the caller can be told)."""
    text = _QUERY.sub(_mask_query_value, text)
    text = _TOKEN.sub(r"hgst_\1_***", text)
    return _KEY.sub(r"hg_\1_***", text)


def _redact_arg(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Masks credentials in a record's message and arguments (never drops the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        return True


def install(loggers: tuple[str, ...] = LOGGERS) -> None:
    """Attach one :class:`RedactSecrets` to each named logger and to the root logger's handlers
    (idempotent). Logger filters see records logged on that logger; handler filters on the root
    also catch records propagated from any child logger."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in loggers]
    targets.extend(logging.getLogger().handlers)
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
