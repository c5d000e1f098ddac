"""Producer command line: invalid input gives one clear error line and status 2, never a traceback."""

from __future__ import annotations

import pytest

from producer.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backfill", "--end", "2026-06-01"], "needs --start or --days"),
        (["backfill", "--start", "2026-06-02", "--end", "2026-06-01"], "must be after"),
        (["backfill", "--days", "1", "--freq", "30s"], "whole number of minutes"),
        (["replay", "--csv", "/nonexistent.csv", "--device-id", "d", "--site-id", "s", "--map", "ac_power_kw=a"],
         "does not exist"),
        (["replay", "--csv", "/nonexistent.csv"], "--device-id and --site-id"),
        (["bad", "--kind", "nonsense", "--count", "1"], "unknown kind"),
        (["--fleet", "/nonexistent.yaml"], "does not exist"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--no-db", "--no-checkpoint"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error:")


@pytest.mark.parametrize("argv", [["backfill", "--start", "yesterday-ish"], ["realtime", "--speed", "-3"]])
def test_argument_type_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_debug_flag_before_the_mode_and_default_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "backfill", "--end", "2026-06-01", "--no-db"]) == 2
    assert "needs --start or --days" in capsys.readouterr().err
    assert main(["--freq", "7s", "--no-db"]) == 2  # no mode = realtime, options still parsed
    assert "whole number of minutes" in capsys.readouterr().err


def test_heliosgrid_producer_subcommand_reports_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from heliosgrid.cli import main as heliosgrid_main

    assert heliosgrid_main(["producer", "backfill", "--end", "2026-06-01", "--no-db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "needs --start or --days" in err
