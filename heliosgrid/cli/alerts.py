"""``heliosgrid alerts list|ack|resolve``."""

from __future__ import annotations

import argparse
import json

from heliosgrid.cli import CLIError
from heliosgrid.cli._args import add_action, add_group


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from heliosgrid.alerts import SOURCES, STATES

    asub = add_group(sub, "alerts", "list, acknowledge and resolve alerts")
    ls = add_action(asub, "list", "alerts, newest first", cmd_list)
    ls.add_argument("--state", choices=(*STATES, "active"), default="active", help="default: active (open or acknowledged)")
    ls.add_argument("--site", default=None, metavar="SITE_ID")
    ls.add_argument("--device", default=None, metavar="DEVICE_ID")
    ls.add_argument("--source", choices=SOURCES, default=None)
    ls.add_argument("--fault-type", default=None)
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    for name, helptext in (("ack", "acknowledge an open alert"), ("resolve", "resolve an alert by hand")):
        a = asub.add_parser(name, help=helptext)
        a.add_argument("alert_id", type=int)
        a.add_argument("--by", required=True, help="who (name or e-mail)")
        a.add_argument("--json", action="store_true")
        a.set_defaults(func=cmd_transition, action=name)


def cmd_list(args: argparse.Namespace) -> int:
    from heliosgrid import alerts
    from heliosgrid.db.connection import connect
    from heliosgrid.settings import get_settings

    if args.limit < 1:
        raise CLIError(f"--limit must be >= 1, got {args.limit}")
    with connect(get_settings()) as conn:
        rows = alerts.list_alerts(
            conn,
            state=args.state,
            site_id=args.site,
            device_id=args.device,
            source=args.source,
            fault_type=args.fault_type,
            limit=args.limit,
        )
    if args.json:
        print(json.dumps([a.as_dict() for a in rows], indent=2, default=str))
        return 0
    if not rows:
        print("no alerts")
    for a in rows:
        print(
            f"#{a.alert_id:<6} {a.state:<12} {a.severity:<8} {a.site_id}/{a.device_id or '-'} {a.fault_type:<16} "
            f"{a.started_at:%Y-%m-%d %H:%M}..{a.last_seen_at:%H:%M} lost {a.energy_lost_kwh:.1f} kWh "
            f"{a.revenue_lost:.2f} {a.currency}  {a.title}"
        )
    return 0


def cmd_transition(args: argparse.Namespace) -> int:
    from heliosgrid import alerts
    from heliosgrid.db.connection import connect
    from heliosgrid.settings import get_settings

    with connect(get_settings()) as conn:
        try:
            alert = (alerts.acknowledge if args.action == "ack" else alerts.resolve)(conn, args.alert_id, args.by)
        except alerts.AlertError as exc:
            raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps(alert.as_dict(), indent=2, default=str))
    else:
        print(f"alert #{alert.alert_id} is {alert.state}")
    return 0
