"""cli/_args helpers: group/action scaffolding, --json or text answers, library errors as CLIError."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from heliosgrid.cli import CLIError, _args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    actions = _args.add_group(sub, "things", "manage things")
    _args.add_json_flag(_args.add_action(actions, "show", "show things", lambda a: 0))
    return parser


def test_group_requires_an_action_and_routes_to_its_func() -> None:
    parser = _parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["things"])
    args = parser.parse_args(["things", "show", "--json"])
    assert args.things_command == "show" and args.json is True and args.func(args) == 0


def test_answer_prints_json_or_returns_the_text_printers_status(capsys: pytest.CaptureFixture[str]) -> None:
    value = {"n": 2, "when": date(2026, 1, 2)}
    assert _args.answer(argparse.Namespace(json=True), value, lambda v: 1) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 2, "when": "2026-01-02"}
    assert _args.answer(argparse.Namespace(json=False), value, lambda v: print(v["n"]) or 3) == 3
    assert capsys.readouterr().out == "2\n"
    assert _args.answer(argparse.Namespace(json=False), value, lambda v: None) == 0


def test_on_local_db_turns_only_refused_errors_into_cli_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = object()

    @contextlib.contextmanager
    def fake_connection(settings: Any = None) -> Iterator[object]:
        yield conn

    monkeypatch.setattr(_args, "local_connection", fake_connection)
    assert _args.on_local_db(lambda c: c is conn) is True

    def bad(c: Any) -> None:
        raise KeyError("no such thing")

    with pytest.raises(CLIError, match="no such thing"):
        _args.on_local_db(bad, KeyError)
    with pytest.raises(KeyError):
        _args.on_local_db(bad, ValueError)
