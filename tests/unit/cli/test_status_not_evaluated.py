"""``heliosgrid status`` text view: "not evaluated: reason" per site/device/detector (heliosgrid.coverage)."""

from __future__ import annotations

from heliosgrid.cli.status import not_evaluated_lines, render_text


def _report(rows: list[dict[str, str]] | None) -> dict[str, object]:
    db: dict[str, object] = {"url": "postgresql://h/db", "heartbeats": [], "sites": [], "rollups": [],
                             "alerts_open": 0, "alerts_acknowledged": 0}
    if rows is not None:
        db["maintenance_not_evaluated"] = rows
    return {"ok": True, "problems": [], "components": [], "kafka": {"bootstrap": "b:1", "error": "x"}, "database": db}


def test_status_lists_each_detector_not_evaluated_with_its_reason() -> None:
    rows = [{"site_id": "s1", "device_id": "s1-inv1", "detector": "soiling",
             "reason": "the model ratio scatters by 16 %", "window_end": "2026-01-01T01:00:00+00:00",
             "run_at": "2026-01-01T01:05:00+00:00"}]
    text = render_text(_report(rows))
    assert "maintenance, not evaluated (newest run per site):" in text
    assert "s1/s1-inv1" in text and "soiling: not evaluated — the model ratio scatters by 16 %" in text


def test_status_says_when_everything_was_evaluated() -> None:
    assert not_evaluated_lines([]) == ["  maintenance: every detector evaluated (or no run yet)"]
    # An older report without the key (database before migration 0120) renders too.
    assert "every detector evaluated" in render_text(_report(None))

