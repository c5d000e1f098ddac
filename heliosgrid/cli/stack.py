"""``heliosgrid stack up|down|restart|logs`` — the local stack behind ``make up`` / ``make down``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from heliosgrid.cli._args import add_action, add_group
from heliosgrid.settings import get_settings


def quiet_client_logs() -> None:
    """kafka-python logs every connection at INFO: keep the operator's terminal readable."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("kafka").setLevel(logging.WARNING)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ssub = add_group(sub, "stack", "local stack: up, down, restart, logs")
    add_action(ssub, "up", "start every component in order and wait for health (idempotent)", cmd_up)
    add_action(ssub, "down", "stop exactly the processes `stack up` started", cmd_down)
    restart = add_action(ssub, "restart", "restart one service of the running stack", cmd_restart)
    restart.add_argument("component", help="e.g. consumer, producer, api")
    logs = add_action(ssub, "logs", "show the last lines of a component's log (or list the logs)", cmd_logs)
    logs.add_argument("component", nargs="?", help="component name; omitted: list the log files")
    logs.add_argument("-n", "--lines", type=int, default=40, help="number of lines (default 40)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C stops)")


def _print_addresses(addresses: list[tuple[str, str]]) -> None:
    width = max((len(k) for k, _ in addresses), default=0)
    for key, value in addresses:
        print(f"  {key:<{width}}  {value}")


def cmd_up(args: argparse.Namespace) -> int:
    quiet_client_logs()
    from heliosgrid.cli import CLIError
    from heliosgrid.stack import StackError, default_supervisor

    supervisor = default_supervisor(get_settings())
    try:
        result = supervisor.up()
    except StackError as exc:
        raise CLIError(str(exc)) from None
    if result.already_running:
        print("the HeliosGrid stack is already running:")
    else:
        print("the HeliosGrid stack is up:")
    _print_addresses(result.addresses)
    print("  status: `heliosgrid status` (or `make status`); stop: `make down`")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from heliosgrid.stack import default_supervisor

    supervisor = default_supervisor(get_settings())
    outcomes = supervisor.down()
    print("stopped the HeliosGrid stack" if outcomes else "nothing to stop: the stack was not running")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    from heliosgrid.cli import CLIError
    from heliosgrid.stack import StackError, default_supervisor

    try:
        status = default_supervisor(get_settings()).restart(args.component)
    except StackError as exc:
        raise CLIError(str(exc)) from None
    print(f"{status.name}: {status.state} (pid {status.pid}), log {status.log_file}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from heliosgrid.cli import CLIError
    from heliosgrid.stack import default_supervisor

    supervisor = default_supervisor(get_settings(), echo=lambda _line: None)
    if args.component is None:
        print(f"log directory: {supervisor.log_dir}")
        for spec in supervisor.specs:
            path = supervisor.log_file(spec.name)
            size = f"{path.stat().st_size:>10} bytes" if path.exists() else "        (none)"
            print(f"  {spec.name:<24} {size}  {path}")
        return 0
    if args.component not in supervisor.by_name:
        raise CLIError(f"unknown component {args.component!r}; known: {', '.join(supervisor.by_name)}")
    if args.lines < 0:
        raise CLIError("--lines must be >= 0")
    path = supervisor.log_file(args.component)
    if not path.exists():
        raise CLIError(f"no log yet for {args.component!r} ({path})")
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
        sys.stdout.writelines(lines[-args.lines:] if args.lines else [])
        while args.follow:
            line = fh.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.5)
    return 0
