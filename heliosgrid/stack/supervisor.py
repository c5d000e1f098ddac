"""The local process supervisor behind ``make up`` / ``make down`` / ``heliosgrid status``.

Layout of the data directory (``Settings.data_dir``, default ``.helios``)::

    run/<component>.pid   pid of each running service (plain number)
    run/stack.json        state: per component pid + start time + kind, env and facts (0600)
    run/stack.lock        serialises up / down / restart
    logs/<component>.log  stdout+stderr of each component, appended per start

``up`` starts the specs in order, waiting for each one's health; on the first failure it names
the component and its log file, stops everything it started (reverse order) and raises
:class:`StackError`. ``down`` stops exactly the recorded processes (verified by pid *and* start
time) and nothing else. Processes keep running after the supervisor exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from heliosgrid.settings import redact_url
from heliosgrid.stack.logfiles import LOG_ROTATE_BYTES, ensure_private_dir, open_private, rotate_if_large, tail
from heliosgrid.stack.outcomes import ComponentStatus, StackError, UpResult
from heliosgrid.stack.process import ProcessRef, process_start_ticks
from heliosgrid.stack.spec import ComponentSpec, DataDirLayout, StackContext, validate_specs

STATE_VERSION = 1
__all__ = ["LOG_ROTATE_BYTES", "ComponentStatus", "StackError", "Supervisor", "UpResult"]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Supervisor(DataDirLayout):
    """Starts, stops and inspects one stack described by ``specs`` under ``data_dir``.

    ``base_env`` seeds :attr:`StackContext.env` (e.g. broker address, data dir); ``echo``
    receives progress lines (``print`` for the CLI, a list's ``append`` in tests).
    """

    def __init__(
        self,
        specs: Sequence[ComponentSpec],
        data_dir: Path,
        *,
        base_env: dict[str, str] | None = None,
        cwd: Path | None = None,
        echo: Callable[[str], None] = print,
    ) -> None:
        validate_specs(specs)
        self.specs = list(specs)
        self.by_name = {s.name: s for s in self.specs}
        self.data_dir = data_dir.resolve()
        self.cwd = (cwd or Path.cwd()).resolve()
        self.base_env = dict(base_env or {})
        self.echo = echo

    # ------------------------------------------------------------------ paths and state
    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "stack.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.echo("waiting for another `heliosgrid stack` command to finish ...")
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def load_state(self) -> dict[str, Any]:
        """The persisted state, or an empty one."""
        try:
            state = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"version": STATE_VERSION, "components": {}, "env": {}, "info": {}, "order": []}
        state.setdefault("components", {})
        state.setdefault("order", list(state["components"]))
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.state_file)

    def _context(self, state: dict[str, Any] | None = None) -> StackContext:
        ctx = StackContext(data_dir=self.data_dir, cwd=self.cwd, env=dict(self.base_env))
        if state:
            ctx.env.update(state.get("env", {}))
            ctx.info.update(state.get("info", {}))
            ctx.started_at.update(
                {n: c["started_at"] for n, c in state["components"].items() if c.get("started_at")}
            )
        return ctx

    @staticmethod
    def _ref(record: dict[str, Any]) -> ProcessRef | None:
        if not record.get("pid"):
            return None
        return ProcessRef(
            pid=int(record["pid"]),
            start_ticks=record.get("start_ticks"),
            group=bool(record.get("group", True)),
            stop_signal=int(record.get("stop_signal", 15)),
        )

    def _live_refs(self, state: dict[str, Any]) -> dict[str, ProcessRef]:
        live: dict[str, ProcessRef] = {}
        for name, record in state["components"].items():
            ref = self._ref(record)
            if ref is not None and ref.alive():
                live[name] = ref
        return live

    # ------------------------------------------------------------------ up
    def up(self) -> UpResult:
        """Start every component in order (idempotent: a running stack is left as it is)."""
        with self._locked():
            state = self.load_state()
            live = self._live_refs(state)
            if live:
                expected = [
                    s.name for s in self.specs
                    if s.kind == "service" or (s.kind == "inline" and state["components"].get(s.name, {}).get("pid"))
                ]
                stopped = [n for n in expected if n not in live]
                if stopped:
                    raise StackError(
                        f"the stack is partly running ({', '.join(sorted(live))} up; {', '.join(stopped)} "
                        f"stopped): run `heliosgrid stack restart <component>` or `make down` then `make up`"
                    )
                ctx = self._context(state)
                return UpResult(already_running=True, started=[], addresses=self._addresses(ctx))
            self._clear_run_files(state)
            ctx = self._context()
            state = {
                "version": STATE_VERSION, "started_at": _now_iso(), "components": {}, "order": [],
                "env": ctx.env, "info": ctx.info,
            }
            self._save_state(state)
            started: list[str] = []
            for spec in self.specs:
                try:
                    self._start(spec, ctx, state)
                except (StackError, KeyboardInterrupt):
                    self.echo("stopping what was started ...")
                    self._stop_all(state)
                    raise
                started.append(spec.name)
            return UpResult(already_running=False, started=started, addresses=self._addresses(ctx))

    def _clear_run_files(self, state: dict[str, Any]) -> None:
        for name in state.get("components", {}):
            with contextlib.suppress(FileNotFoundError):
                self.pid_file(name).unlink()
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    def _record(self, state: dict[str, Any], ctx: StackContext, name: str, record: dict[str, Any]) -> None:
        state["components"][name] = record
        if name not in state["order"]:
            state["order"].append(name)
        state["env"] = ctx.env
        state["info"] = ctx.info
        self._save_state(state)

    def _start(self, spec: ComponentSpec, ctx: StackContext, state: dict[str, Any]) -> None:
        log_path = self.log_file(spec.name)
        ensure_private_dir(self.log_dir)
        rotate_if_large(log_path)
        for dep in spec.depends_on:
            record = state["components"].get(dep)
            dep_ref = self._ref(record) if record else None
            if record is None or (dep_ref is not None and not dep_ref.alive()):
                raise StackError(f"{spec.name}: dependency {dep!r} is not running", spec.name, log_path)
        # Full precision: heartbeat health checks compare database times against it.
        ctx.started_at[spec.name] = datetime.now(UTC).isoformat()
        self.echo(f"starting {spec.name} ...")
        t0 = time.monotonic()
        if spec.kind == "inline":
            self._run_inline(spec, ctx, state, log_path)
        elif spec.kind == "task":
            self._run_task(spec, ctx, state, log_path)
        else:
            self._run_service(spec, ctx, state, log_path)
        self.echo(f"  {spec.name} ready ({time.monotonic() - t0:.1f} s)")

    def _fail(self, spec: ComponentSpec, log_path: Path, what: str) -> StackError:
        last = tail(log_path)
        detail = f"\n--- last lines of {log_path} ---\n{last}" if last else ""
        return StackError(f"component {spec.name!r} failed: {what}; log: {log_path}{detail}", spec.name, log_path)

    def _child_env(self, spec: ComponentSpec, ctx: StackContext) -> dict[str, str]:
        env = dict(os.environ)
        env.update(ctx.env)
        env.update(spec.resolve_env(ctx))
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _open_log(self, spec: ComponentSpec, log_path: Path, argv: Sequence[str]) -> Any:
        fh = open_private(log_path)  # handed to the child, closed by the caller
        fh.write(f"\n=== {_now_iso()} start {spec.name}: {redact_url(' '.join(argv))}\n".encode())
        fh.flush()
        return fh

    def _popen(
        self, spec: ComponentSpec, ctx: StackContext, log_path: Path, argv: Sequence[str], log_fh: Any
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own session with output to ``log_fh``; a missing program is a :class:`StackError`."""
        try:
            return subprocess.Popen(
                argv, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._child_env(spec, ctx), cwd=self.cwd, start_new_session=True,
            )
        except OSError as exc:
            raise self._fail(spec, log_path, f"cannot execute {argv[0]!r}: {exc.strerror}") from None

    def _run_inline(self, spec: ComponentSpec, ctx: StackContext, state: dict[str, Any], log_path: Path) -> None:
        assert spec.run is not None
        with open_private(log_path, binary=False) as fh:
            fh.write(f"\n=== {_now_iso()} run {spec.name} (in the supervisor)\n")
        try:
            ref = spec.run(ctx)
        except Exception as exc:
            with open_private(log_path, binary=False) as fh:
                fh.write(redact_url(f"{type(exc).__name__}: {exc}") + "\n")
            raise self._fail(spec, log_path, redact_url(f"{type(exc).__name__}: {exc}")) from None
        record: dict[str, Any] = {"kind": "inline", "started_at": ctx.started_at[spec.name], "log": str(log_path)}
        if ref is not None:
            record.update(pid=ref.pid, start_ticks=ref.start_ticks, group=ref.group, stop_signal=ref.stop_signal)
            self.pid_file(spec.name).write_text(f"{ref.pid}\n")
        self._record(state, ctx, spec.name, record)
        self._wait_healthy(spec, ctx, log_path, ref)
        self._after_healthy(spec, ctx, log_path)
        self._record(state, ctx, spec.name, record)

    def _run_task(self, spec: ComponentSpec, ctx: StackContext, state: dict[str, Any], log_path: Path) -> None:
        argv = spec.resolve_argv(ctx)
        with self._open_log(spec, log_path, argv) as fh:
            proc = self._popen(spec, ctx, log_path, argv, fh)
            try:
                code = proc.wait(timeout=spec.start_timeout_s)
            except subprocess.TimeoutExpired:
                ProcessRef(proc.pid, process_start_ticks(proc.pid)).stop(timeout_s=5)
                proc.wait()
                raise self._fail(spec, log_path, f"did not finish within {spec.start_timeout_s:.0f} s") from None
        record = {"kind": "task", "exit_code": code, "started_at": ctx.started_at[spec.name], "log": str(log_path)}
        self._record(state, ctx, spec.name, record)
        if code != 0:
            raise self._fail(spec, log_path, f"exited with status {code}")
        self._after_healthy(spec, ctx, log_path)

    def _spawn(
        self, spec: ComponentSpec, ctx: StackContext, log_path: Path
    ) -> tuple[ProcessRef, subprocess.Popen[bytes]]:
        argv = spec.resolve_argv(ctx)
        with self._open_log(spec, log_path, argv) as fh:
            proc = self._popen(spec, ctx, log_path, argv, fh)
        ticks = process_start_ticks(proc.pid)
        return ProcessRef(pid=proc.pid, start_ticks=ticks, group=True, stop_signal=spec.stop_signal), proc

    def _run_service(self, spec: ComponentSpec, ctx: StackContext, state: dict[str, Any], log_path: Path) -> None:
        ref, proc = self._spawn(spec, ctx, log_path)
        record = {
            "kind": "service", "pid": ref.pid, "start_ticks": ref.start_ticks, "group": True,
            "stop_signal": ref.stop_signal, "started_at": ctx.started_at[spec.name], "log": str(log_path),
        }
        self.pid_file(spec.name).write_text(f"{ref.pid}\n")
        self._record(state, ctx, spec.name, record)
        self._wait_healthy(spec, ctx, log_path, ref, proc)
        # The process outlives the supervisor: drop the Popen object without Python warning
        # that it still runs (liveness checks reap it later if it is our child).
        proc.returncode = 0
        self._after_healthy(spec, ctx, log_path)
        self._record(state, ctx, spec.name, record)

    def _wait_healthy(
        self, spec: ComponentSpec, ctx: StackContext, log_path: Path, ref: ProcessRef | None,
        proc: subprocess.Popen[bytes] | None = None,
    ) -> None:
        deadline = time.monotonic() + (spec.start_timeout_s if spec.health else spec.min_uptime_s)
        reason: str | None = "not checked yet"
        while True:
            code = proc.poll() if proc is not None else None
            if code is not None:
                raise self._fail(spec, log_path, f"exited with status {code} before becoming healthy")
            if ref is not None and not ref.alive():
                raise self._fail(spec, log_path, "exited before becoming healthy")
            if spec.health is not None:
                reason = spec.health(ctx)
                if reason is None:
                    return
            if time.monotonic() >= deadline:
                if spec.health is None:
                    return
                raise self._fail(
                    spec, log_path,
                    f"not healthy after {spec.start_timeout_s:.0f} s (waiting for {spec.health.describe()}: {reason})",
                )
            time.sleep(0.25)

    def _after_healthy(self, spec: ComponentSpec, ctx: StackContext, log_path: Path) -> None:
        if spec.after_healthy is None:
            return
        try:
            spec.after_healthy(ctx)
        except Exception as exc:
            message = redact_url(f"{type(exc).__name__}: {exc}")
            with open_private(log_path, binary=False) as fh:
                fh.write(f"post-start step failed: {message}\n")
            raise self._fail(spec, log_path, f"post-start step failed: {message}") from None

    # ------------------------------------------------------------------ down
    def down(self) -> list[tuple[str, str]]:
        """Stop every recorded process, last started first; return (component, outcome) pairs."""
        with self._locked():
            state = self.load_state()
            outcomes = self._stop_all(state)
            self._clear_run_files(state)
            return outcomes

    def _stop_all(self, state: dict[str, Any]) -> list[tuple[str, str]]:
        outcomes: list[tuple[str, str]] = []
        for name in reversed(state.get("order", [])):
            record = state["components"].get(name, {})
            ref = self._ref(record)
            if ref is None:
                continue
            spec = self.by_name.get(name)
            timeout = spec.stop_timeout_s if spec else 20.0
            outcome = ref.stop(timeout_s=timeout, repeat_after_s=spec.stop_repeat_after_s if spec else None)
            self.echo(f"  {name} (pid {ref.pid}): {outcome}")
            outcomes.append((name, outcome))
            with contextlib.suppress(FileNotFoundError):
                self.pid_file(name).unlink()
        return outcomes

    # ------------------------------------------------------------------ restart
    def restart(self, name: str) -> ComponentStatus:
        """Stop (if running) and start one service again with the stack's recorded environment.

        Used by the stream-supervision DAG to bring back a stopped producer or consumer. Its
        dependencies must be running; the health check is waited for as in ``up``.
        """
        spec = self.by_name.get(name)
        if spec is None:
            raise StackError(f"unknown component {name!r}; known: {', '.join(self.by_name)}")
        if spec.kind != "service":
            raise StackError(f"component {name!r} is a {spec.kind} step, not a process that can be restarted")
        with self._locked():
            state = self.load_state()
            if not state["components"]:
                raise StackError("the stack is not running (no state in the run directory): run `make up`")
            ctx = self._context(state)
            ref = self._ref(state["components"].get(name, {}))
            if ref is not None:
                outcome = ref.stop(timeout_s=spec.stop_timeout_s, repeat_after_s=spec.stop_repeat_after_s)
                self.echo(f"  {name} (pid {ref.pid}): {outcome}")
            self._start(spec, ctx, state)
        return self._status_of(spec, self.load_state(), ctx, check_health=True)

    # ------------------------------------------------------------------ status
    def component_status(self, *, check_health: bool = True) -> list[ComponentStatus]:
        """Status of every declared component (works whether or not the stack runs)."""
        state = self.load_state()
        ctx = self._context(state)
        return [self._status_of(spec, state, ctx, check_health=check_health) for spec in self.specs]

    def _status_of(
        self, spec: ComponentSpec, state: dict[str, Any], ctx: StackContext, *, check_health: bool
    ) -> ComponentStatus:
        record = state["components"].get(spec.name)
        log = str(self.log_file(spec.name))
        if record is None:
            return ComponentStatus(spec.name, spec.kind, "not started", None, None, None, log, None)
        started = record.get("started_at")
        if spec.kind == "task":
            code = record.get("exit_code")
            state_name = "done" if code == 0 else "failed"
            reason = None if code == 0 else f"exited with status {code}"
            return ComponentStatus(spec.name, spec.kind, state_name, None, None, reason, log, started)
        ref = self._ref(record)
        if ref is None:  # inline step that started nothing of ours
            healthy = reason = None
            if check_health and spec.health is not None:
                reason = spec.health(ctx)
                healthy = reason is None
            return ComponentStatus(spec.name, spec.kind, "external", None, healthy, reason, log, started)
        if not ref.alive():
            return ComponentStatus(spec.name, spec.kind, "stopped", ref.pid, False, "process not running", log, started)
        healthy, reason = True, None
        if check_health and spec.health is not None:
            reason = spec.health(ctx)
            healthy = reason is None
        return ComponentStatus(spec.name, spec.kind, "running", ref.pid, healthy, reason, log, started)

    def _addresses(self, ctx: StackContext) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for spec in self.specs:
            if spec.addresses is not None:
                with contextlib.suppress(Exception):
                    out.extend(spec.addresses(ctx))
        out.append(("logs", str(self.log_dir)))
        return out
