"""The supervisor with small real processes: a Python http.server and the real Tansu broker,
each on a free port, under a throwaway data directory."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from heliosgrid.broker import ensure_topics, tansu_binary
from heliosgrid.stack import ComponentSpec, HttpOk, PortOpen, StackContext, StackError, Supervisor
from heliosgrid.stack.health import HttpJsonField
from heliosgrid.stack.process import pid_alive
from heliosgrid.stack.supervisor import LOG_ROTATE_BYTES
from tests.helpers import free_port

pytestmark = pytest.mark.integration


def http_server(name: str, port: int, **kw: object) -> ComponentSpec:
    return ComponentSpec(
        name=name, argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        health=HttpOk(f"http://127.0.0.1:{port}/"), start_timeout_s=30, stop_timeout_s=5, **kw,  # type: ignore[arg-type]
    )


def broker(port: int, topic: str) -> ComponentSpec:
    url = f"tcp://127.0.0.1:{port}"

    def topics(ctx: StackContext) -> None:
        ensure_topics(f"127.0.0.1:{port}", {topic: 2})

    return ComponentSpec(
        name="broker", argv=[str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
        health=PortOpen("127.0.0.1", port), after_healthy=topics, stop_timeout_s=10,
    )


def marker_task(out: Path) -> ComponentSpec:
    """A one-shot step that proves it ran after the broker and saw the stack's environment."""
    code = "import os, pathlib, sys; pathlib.Path(sys.argv[1]).write_text(os.environ['HELIOS_MARKER'])"
    return ComponentSpec(name="seed", kind="task", argv=[sys.executable, "-c", code, str(out)],
                         depends_on=("broker",), env={"HELIOS_MARKER": "seeded"})


def pids_of(sup: Supervisor) -> dict[str, int]:
    return {s.name: s.pid for s in sup.component_status(check_health=False) if s.pid}


@pytest.fixture
def unrelated() -> Iterator[subprocess.Popen[bytes]]:
    """A process the supervisor did not start; it must survive every `down`."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_up_status_restart_down(tmp_path: Path, unrelated: subprocess.Popen[bytes]) -> None:
    bport, wport = free_port(), free_port()
    topic = f"test.stack.{os.getpid()}.{bport}"
    out = tmp_path / "marker.txt"
    lines: list[str] = []
    specs = [broker(bport, topic), marker_task(out), http_server("web", wport, depends_on=("seed",))]
    sup = Supervisor(specs, tmp_path / "data", echo=lines.append)

    result = sup.up()
    try:
        assert not result.already_running and result.started == ["broker", "seed", "web"]
        assert [ln for ln in lines if ln.startswith("starting")] == ["starting broker ...", "starting seed ...",
                                                                      "starting web ..."]
        assert out.read_text() == "seeded"
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{bport}")
        try:
            assert topic in admin.list_topics()
        finally:
            admin.close()
        # pid files, logs, private state file
        pids = pids_of(sup)
        assert set(pids) == {"broker", "web"}
        for name, pid in pids.items():
            assert int((sup.run_dir / f"{name}.pid").read_text()) == pid
            assert pid_alive(pid)
            assert os.getpgid(pid) == pid  # own session: children are stopped with it
        assert (sup.log_dir / "web.log").exists() and (sup.log_dir / "broker.log").exists()
        assert stat.S_IMODE(sup.state_file.stat().st_mode) == 0o600
        statuses = {s.name: s for s in sup.component_status()}
        assert statuses["web"].state == "running" and statuses["web"].healthy is True
        assert statuses["seed"].state == "done"

        # idempotent: a second up starts nothing
        again = sup.up()
        assert again.already_running and again.started == [] and pids_of(sup) == pids

        # restart: a new process, the old one gone, healthy again
        status = sup.restart("web")
        assert status.state == "running" and status.healthy is True and status.pid != pids["web"]
        assert not pid_alive(pids["web"])
        with pytest.raises(StackError, match="task step"):
            sup.restart("seed")
        with pytest.raises(StackError, match="unknown component"):
            sup.restart("nope")

        # a crashed service is reported, and `up` refuses to half-start the stack
        os.kill(status.pid or 0, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(status.pid or 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        statuses = {s.name: s for s in sup.component_status()}
        assert statuses["web"].state == "stopped" and statuses["web"].healthy is False
        with pytest.raises(StackError, match="partly running"):
            sup.up()
        sup.restart("web")
        pids = pids_of(sup)
    finally:
        outcomes = dict(sup.down())
    assert outcomes == {"web": "stopped", "broker": "stopped"}
    assert all(not pid_alive(pid) for pid in pids.values())
    assert not list(sup.run_dir.glob("*.pid")) and not sup.state_file.exists()
    assert unrelated.poll() is None  # an unrelated process survives
    assert sup.down() == []  # down twice is harmless


def test_failing_component_stops_what_was_started(tmp_path: Path, unrelated: subprocess.Popen[bytes]) -> None:
    wport = free_port()
    crash = ComponentSpec(name="crasher", argv=[sys.executable, "-c", "print('boom: cannot start'); raise SystemExit(3)"],
                          health=PortOpen("127.0.0.1", free_port()), depends_on=("web",))
    sup = Supervisor([http_server("web", wport), crash], tmp_path, echo=lambda _l: None)
    with pytest.raises(StackError) as info:
        sup.up()
    message = str(info.value)
    assert "'crasher' failed: exited with status 3 before becoming healthy" in message
    assert str(tmp_path / "logs" / "crasher.log") in message and "boom: cannot start" in message
    assert info.value.component == "crasher"
    web = {s.name: s for s in sup.component_status()}["web"]
    assert web.state == "stopped"  # web was started, then stopped by the failure
    assert not list(sup.run_dir.glob("*.pid"))
    assert unrelated.poll() is None


def test_health_timeout_and_missing_program_fail_clearly(tmp_path: Path) -> None:
    silent = ComponentSpec(name="silent", argv=[sys.executable, "-c", "import time; time.sleep(60)"],
                           health=PortOpen("127.0.0.1", free_port()), start_timeout_s=1.5)
    sup = Supervisor([silent], tmp_path / "a", echo=lambda _l: None)
    with pytest.raises(StackError, match=r"'silent' failed: not healthy after 2 s \(waiting for port"):
        sup.up()
    assert all(s.state != "running" for s in sup.component_status())

    missing = ComponentSpec(name="producer", argv=[sys.executable, "-m", "no_such_module_here"], min_uptime_s=3)
    sup = Supervisor([missing], tmp_path / "b", echo=lambda _l: None)
    with pytest.raises(StackError, match=r"(?s)'producer' failed: exited with status 1 before becoming healthy.*No module named"):
        sup.up()

    absent = ComponentSpec(name="ghost", kind="task", argv=[str(tmp_path / "does-not-exist")])
    with pytest.raises(StackError, match="'ghost' failed: cannot execute"):
        Supervisor([absent], tmp_path / "c", echo=lambda _l: None).up()

    failing_task = ComponentSpec(name="migrate", kind="task", argv=[sys.executable, "-c", "raise SystemExit(4)"])
    with pytest.raises(StackError, match="'migrate' failed: exited with status 4"):
        Supervisor([failing_task], tmp_path / "d", echo=lambda _l: None).up()


def test_json_field_health_and_log_rotation(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "health.json").write_text('{"scheduler": {"status": "healthy"}, "dag_processor": {"status": null}}')
    port = free_port()
    base = f"http://127.0.0.1:{port}/health.json"
    spec = ComponentSpec(
        name="web", argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)],
        health=HttpJsonField(base, ("scheduler", "status"), "healthy"), start_timeout_s=30, stop_timeout_s=5,
    )
    sup = Supervisor([spec], tmp_path / "data", echo=lambda _l: None)
    sup.log_dir.mkdir(parents=True)
    old_log = sup.log_file("web")
    with open(old_log, "wb") as fh:
        fh.truncate(LOG_ROTATE_BYTES + 1)  # sparse: a large old log
    sup.up()
    try:
        assert old_log.with_name("web.log.1").stat().st_size == LOG_ROTATE_BYTES + 1
        assert old_log.stat().st_size < 10_000
        ctx = StackContext(data_dir=sup.data_dir, cwd=tmp_path)
        assert HttpJsonField(base, ("dag_processor", "status"), "healthy")(ctx) == (
            "dag_processor.status is None, not 'healthy'"
        )
        assert "failed" in (HttpJsonField(base.replace("health", "missing"), ("a",), "b")(ctx) or "")
    finally:
        sup.down()
