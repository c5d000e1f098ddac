"""Health checks the supervisor waits on before starting the next component.

Each check is a small callable object: ``check(ctx)`` returns ``None`` when healthy or a short
reason (``"nothing listening on 127.0.0.1:19092"``) that ends up in the timeout message.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from heliosgrid.stack.spec import StackContext


class HealthCheck(Protocol):
    """A readiness probe; ``describe()`` names it in messages."""

    def __call__(self, ctx: StackContext) -> str | None: ...

    def describe(self) -> str: ...


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class PortOpen:
    """Healthy when a TCP connection to ``host:port`` succeeds."""

    host: str
    port: int

    def __call__(self, ctx: StackContext) -> str | None:
        return None if port_open(self.host, self.port) else f"nothing listening on {self.host}:{self.port}"

    def describe(self) -> str:
        return f"port {self.host}:{self.port} open"


@dataclass(frozen=True)
class HttpOk:
    """Healthy when ``GET url`` answers with a 2xx status within ``timeout_s`` seconds."""

    url: str
    timeout_s: float = 3.0

    def __call__(self, ctx: StackContext) -> str | None:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as resp:
                status = int(resp.status)
        except urllib.error.HTTPError as exc:
            return f"GET {self.url} -> HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            return f"GET {self.url} failed: {exc}"
        return None if 200 <= status < 300 else f"GET {self.url} -> HTTP {status}"

    def describe(self) -> str:
        return f"HTTP 200 from {self.url}"


@dataclass(frozen=True)
class HttpJsonField:
    """Healthy when ``GET url`` returns JSON whose value at ``path`` equals ``expected``.

    Example: Airflow's ``/api/v2/monitor/health`` with path ``("scheduler", "status")`` and
    expected ``"healthy"`` (the scheduler's job heartbeat is recent).
    """

    url: str
    path: tuple[str, ...]
    expected: str
    timeout_s: float = 5.0

    def __call__(self, ctx: StackContext) -> str | None:
        import json

        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as resp:
                value: object = json.load(resp)
        except (OSError, ValueError) as exc:
            return f"GET {self.url} failed: {exc}"
        for key in self.path:
            value = value.get(key) if isinstance(value, dict) else None
        if value != self.expected:
            return f"{'.'.join(self.path)} is {value!r}, not {self.expected!r}"
        return None

    def describe(self) -> str:
        return f"{'.'.join(self.path)} = {self.expected!r} at {self.url}"


class _DatabaseRowCheck:
    """Template for checks that judge one row of a query on the stack's database.

    Subclasses give the query (``_query``) and judge its row (``_judge``); fetching, the 3 s
    connect timeout and every "nothing to judge" reason live here once: no URL known, the
    database unreachable, the query failed (e.g. its table is missing before migrations), or no
    row / a NULL first column.
    """

    def _query(self, ctx: StackContext) -> tuple[str, str, tuple[Any, ...], str]:
        """``(what, sql, params, reason_when_empty)``."""
        raise NotImplementedError

    def _judge(self, row: tuple[Any, ...]) -> str | None:
        raise NotImplementedError

    def __call__(self, ctx: StackContext) -> str | None:
        from heliosgrid.db.connection import DatabaseUnavailable, open_connection

        if not ctx.database_url:
            return "no database URL known"
        what, sql, params, empty = self._query(ctx)
        try:
            with open_connection(ctx.database_url, autocommit=True, connect_timeout_s=3) as conn:
                row = conn.execute(sql, params).fetchone()
        except DatabaseUnavailable as exc:
            return str(exc)
        except Exception as exc:  # e.g. table missing before migrations
            return f"{what} query failed: {type(exc).__name__}: {exc}".strip()
        return empty if row is None or row[0] is None else self._judge(row)


@dataclass(frozen=True)
class HeartbeatFresh(_DatabaseRowCheck):
    """Healthy when the ``heartbeats`` table has a row for ``component`` written after the
    component was (re)started, i.e. the process itself reached the database.

    Needs ``ctx.database_url``. ``max_age_s`` bounds how old the newest beat may be.
    """

    component: str
    max_age_s: float = 60.0

    def _query(self, ctx: StackContext) -> tuple[str, str, tuple[Any, ...], str]:
        sql = (
            "SELECT max(last_beat_at) >= %s, extract(epoch FROM now() - max(last_beat_at)) "
            "FROM heartbeats WHERE component = %s"
        )
        params = (ctx.component_started_at(self.component), self.component)
        return "heartbeat", sql, params, f"no heartbeat row for component {self.component!r} yet"

    def _judge(self, row: tuple[Any, ...]) -> str | None:
        if not row[0]:
            return f"no heartbeat from {self.component!r} since it started"
        if float(row[1]) > self.max_age_s:
            return f"newest heartbeat of {self.component!r} is {float(row[1]):.0f} s old"
        return None

    def describe(self) -> str:
        return f"heartbeat row for {self.component!r}"


@dataclass(frozen=True)
class ReadingsCaughtUp(_DatabaseRowCheck):
    """Healthy when the newest stored reading is at most ``max_lag_s`` behind the database clock.

    Gates the components after the producer on the demo backfill having reached the database,
    so the first Airflow runs (quality, the forecast cold start) see the whole history.
    """

    max_lag_s: float = 300.0

    def _query(self, ctx: StackContext) -> tuple[str, str, tuple[Any, ...], str]:
        sql = "SELECT extract(epoch FROM now() - max(ts)) FROM readings"
        return "readings", sql, (), "no readings stored yet"

    def _judge(self, row: tuple[Any, ...]) -> str | None:
        lag_s = float(row[0])
        return f"newest reading is {lag_s / 3600:.1f} h old (backfill still arriving)" if lag_s > self.max_lag_s else None

    def describe(self) -> str:
        return f"readings caught up to within {self.max_lag_s:.0f} s"


@dataclass(frozen=True)
class AllOf:
    """Healthy when every check is healthy (first failing reason is reported)."""

    checks: tuple[HealthCheck, ...]

    def __call__(self, ctx: StackContext) -> str | None:
        for check in self.checks:
            reason = check(ctx)
            if reason is not None:
                return reason
        return None

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.checks)
