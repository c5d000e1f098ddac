"""``heliosgrid simulate realism --write-docs``: rewrites only its marked table in docs/maintenance.md."""

from __future__ import annotations

from heliosgrid.cli.simulate import BEGIN, END, replace_table


def test_simulate_realism_replaces_only_its_table() -> None:
    doc = f"# t\n\nintro\n\n{BEGIN}\nold\n{END}\n\nafter\n"
    out = replace_table(doc, "| new |")
    assert out == f"# t\n\nintro\n\n{BEGIN}\n| new |\n{END}\n\nafter\n"
    assert replace_table(out, "| new |") == out
    assert replace_table("# t\n", "| x |").endswith(f"{BEGIN}\n| x |\n{END}\n")
