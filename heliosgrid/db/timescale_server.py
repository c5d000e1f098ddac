"""A private native TimescaleDB cluster for tests and benchmarks (development harness).

Wraps ``../shared/timescaledb/pg-timescaledb`` (TimescaleDB 2.25.2 built for this machine's
PostgreSQL 15, see its README). Production never calls this module: it exists so that the test
suite and ``heliosgrid bench`` run the TimescaleDB backend on a real server with COPY, many
connections and the background-job scheduler. Machines without the script fall back to PGlite
(``tools/pglite``), and callers report which one ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT_ENV = "HELIOS_PG_TIMESCALEDB"
PREFIX_ENV = "HELIOS_TSPG_PREFIX"
DEFAULT_PREFIX = Path("/tmp/helios-pg15-timescaledb")
"""Where ``pg-timescaledb`` lays PostgreSQL 15 plus the extension files (its ``HELIOS_TSPG_PREFIX``)."""


def find_pg_timescaledb() -> Path | None:
    """Return the ``pg-timescaledb`` script (``$HELIOS_PG_TIMESCALEDB`` or ``../shared``), or None."""
    candidates = [os.environ.get(SCRIPT_ENV, ""), str(REPO.parent / "shared" / "timescaledb" / "pg-timescaledb")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@dataclass
class NativeTimescale:
    """A started private cluster: ``url`` points at its ``postgres`` database."""

    script: Path
    datadir: Path
    port: int
    url: str

    def stop(self) -> None:
        """Fast shutdown, then remove the data directory."""
        subprocess.run(["bash", str(self.script), "stop", str(self.datadir)], check=False, capture_output=True, timeout=60)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class UnpreloadedCluster:
    """A private cluster whose PostgreSQL has the TimescaleDB files but does NOT preload them."""

    bindir: Path
    datadir: Path
    port: int
    url: str

    def stop(self) -> None:
        """Fast shutdown, then remove the data directory."""
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-m", "fast", "stop"]),
                       check=False, capture_output=True, timeout=60)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_unpreloaded_cluster(port: int) -> UnpreloadedCluster:
    """Start a throwaway cluster from the ``pg-timescaledb`` prefix without ``shared_preload_libraries``.

    The extension is available (``pg_available_extensions`` lists it) but ``CREATE EXTENSION``
    fails: the situation ``HELIOS_DB_BACKEND`` must explain. Needs the prefix, which
    :func:`start_native_timescale` lays on first use. Raises FileNotFoundError / RuntimeError.
    """
    bindir = Path(os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX) / "lib" / "postgresql" / "15" / "bin"
    if not (bindir / "initdb").is_file():
        raise FileNotFoundError(f"no PostgreSQL prefix with TimescaleDB at {bindir} (start the native server once)")
    base = Path(tempfile.mkdtemp(prefix="helios-nopreload-", dir="/tmp"))
    base.chmod(0o755)
    datadir = base / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres")
    steps = [
        [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        [str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(datadir / "server.log"), "-w", "-t", "60",
         "-o", f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={datadir}", "start"],
    ]
    for cmd in steps:
        proc = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return UnpreloadedCluster(bindir, datadir, port, f"postgresql://postgres@127.0.0.1:{port}/postgres")


HARNESS_SETTINGS: dict[str, str] = {"timescaledb.max_background_workers": "32", "max_worker_processes": "48"}
"""Worker slots for test sessions: every database with TimescaleDB runs its own job scheduler,
which holds one ``timescaledb.max_background_workers`` slot (the script's default of 8 is taken
by a handful of per-module databases; jobs then never run in a newer one)."""


def start_native_timescale(port: int, script: Path | None = None,
                           settings: dict[str, str] | None = None) -> NativeTimescale:
    """Start a fresh private TimescaleDB cluster on 127.0.0.1:``port`` (about 1 s).

    ``settings`` (default :data:`HARNESS_SETTINGS`; ``{}`` for none) are written with
    ``ALTER SYSTEM`` and the cluster restarted once (another second). The data directory lives
    under ``/tmp`` with mode 0755 because, as root, the cluster runs as the ``postgres`` user,
    which must be able to traverse every parent directory. Raises FileNotFoundError when the
    script is missing and RuntimeError when start fails.
    """
    script = script or find_pg_timescaledb()
    if script is None:
        raise FileNotFoundError("pg-timescaledb not found (set HELIOS_PG_TIMESCALEDB or lay ../shared beside the repo)")
    base = Path(tempfile.mkdtemp(prefix="helios-ts-", dir="/tmp"))
    base.chmod(0o755)
    datadir = base / "data"
    proc = subprocess.run(
        ["bash", str(script), "start", str(datadir), str(port)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"native TimescaleDB did not start: {proc.stderr.strip() or proc.stdout.strip()}")
    url = proc.stdout.strip().splitlines()[-1]
    server = NativeTimescale(script=script, datadir=datadir, port=port, url=url)
    wanted = HARNESS_SETTINGS if settings is None else settings
    if wanted:
        _apply_settings(server, wanted)
    return server


def _apply_settings(server: NativeTimescale, settings: dict[str, str]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.url, autocommit=True, connect_timeout=10) as conn:
        for name, value in settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(*name.split(".")),
                                                                   sql.Literal(value)))
    script, datadir = str(server.script), str(server.datadir)
    for cmd in (["bash", script, "stop", datadir], ["bash", script, "start", datadir, str(server.port)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            server.stop()
            raise RuntimeError(f"native TimescaleDB did not restart: {proc.stderr.strip() or proc.stdout.strip()}")
