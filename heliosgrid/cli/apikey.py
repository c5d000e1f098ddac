"""``heliosgrid apikey create|list|revoke``: manage API keys (stored as SHA-256 hashes).

The key functions (``heliosgrid.api.auth``, which loads FastAPI) are imported inside the
commands, so registering this subcommand group costs no heavy imports.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from heliosgrid.api.scopes import SCOPES
from heliosgrid.cli._args import add_action, add_group, add_json_flag, on_local_db

if TYPE_CHECKING:
    pass


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ps = add_group(sub, "apikey", "create, list and revoke API keys")
    c = add_action(ps, "create", "create a key and print its secret (shown only once)", cmd_create)
    c.add_argument("--name", required=True, help="who or what uses the key (e.g. 'grafana', 'ops-dashboard')")
    c.add_argument("--scope", action="append", required=True, choices=SCOPES,
                   help="scope to grant; repeat for several (read, alerts:write, admin)")
    add_json_flag(c)
    add_json_flag(add_action(ps, "list", "list keys (never the secrets)", cmd_list))
    r = add_action(ps, "revoke", "revoke a key by id", cmd_revoke)
    r.add_argument("key_id", help="the 8-character key id shown by create/list")


def cmd_create(args: argparse.Namespace) -> int:
    from heliosgrid.api.auth import ApiKeyError, create_key

    key = on_local_db(lambda conn: create_key(conn, args.name, args.scope), ApiKeyError)
    if args.json:
        print(json.dumps({"key_id": key.key_id, "name": key.name, "scopes": list(key.scopes), "secret": key.secret}))
    else:
        print(f"created API key {key.key_id} ({key.name}) with scopes: {', '.join(key.scopes)}")
        print("secret (shown once, store it now):")
        print(key.secret)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from heliosgrid.api.auth import list_keys
    from heliosgrid.api.formats import jsonable

    keys = on_local_db(list_keys)
    if args.json:
        print(json.dumps([{k: jsonable(v) for k, v in row.items()} for row in keys]))
        return 0
    if not keys:
        print("no API keys (create one with `heliosgrid apikey create --name NAME --scope read`)")
        return 0
    print(f"{'key_id':8}  {'name':24}  {'scopes':28}  {'created':20}  status")
    for row in keys:
        status = f"revoked {jsonable(row['revoked_at'])}" if row["revoked_at"] else "active"
        scopes = ",".join(row["scopes"])  # type: ignore[arg-type]
        created = str(jsonable(row["created_at"]))[:19]
        print(f"{row['key_id']:8}  {row['name']!s:24}  {scopes:28}  {created:20}  {status}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from heliosgrid.api.auth import ApiKeyError, revoke_key
    from heliosgrid.api.formats import jsonable

    when = on_local_db(lambda conn: revoke_key(conn, args.key_id), ApiKeyError)
    print(f"revoked API key {args.key_id} at {jsonable(when)}")
    return 0
