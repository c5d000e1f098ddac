"""The BI bench's summaries (``bench/bi_measure.py``): the target's scope and growth against the
machine's speed at the time (ADR 0330 amendment)."""

from __future__ import annotations

from typing import Any

from bench.bi_measure import TARGET_P95_MS, fleet_growth, fleet_maxima
from bench.bi_queries import EXAMPLE_QUERIES

EXAMPLE = next(iter(EXAMPLE_QUERIES))


def _q(p50: float, p95: float | None = None) -> dict[str, float]:
    return {"p50_ms": p50, "p95_ms": p95 if p95 is not None else p50}


def test_the_target_is_judged_on_report_and_dashboard_queries_and_examples_are_apart() -> None:
    measured = {"fleet_current_kw": _q(1.0, 2.0), "site_power_year_15m": _q(10.0, 40.0), EXAMPLE: _q(150.0, 190.0)}
    out = fleet_maxima(measured)
    assert out == {"max_p95_ms": 40.0, "within_target": True, "examples_max_p95_ms": 190.0}
    slow = fleet_maxima({**measured, "fleet_current_kw": _q(90.0, TARGET_P95_MS + 1)})
    assert slow["within_target"] is False and slow["max_p95_ms"] == TARGET_P95_MS + 1


def _fleets(pages: dict[int, float], calibration: dict[int, float] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sites, total in pages.items():
        fleet: dict[str, Any] = {"queries": {"a": _q(total / 2), "b": _q(total / 2), EXAMPLE: _q(sites * 100.0)}}
        if calibration is not None:
            fleet["calibration_ms"] = calibration[sites]
        out[str(sites)] = fleet
    return out


def test_growth_is_the_page_total_and_ignores_the_examples() -> None:
    g = fleet_growth(_fleets({20: 70.0, 50: 140.0}, None), (20, 50))["20_to_50"]
    assert g["site_ratio"] == 2.5 and g["pages_p50_ratio"] == 2.0 and g["sublinear"] is True
    assert g["pages_p50_ratio_calibrated"] is None and g["queries"]["a"] == 2.0


def test_a_slower_machine_during_the_big_fleet_is_divided_out() -> None:
    # 2.8x the page time for 2.5x the sites, while the fixed calibration query also took 1.4x longer
    g = fleet_growth(_fleets({20: 70.0, 50: 196.0}, {20: 50.0, 50: 70.0}), (20, 50))["20_to_50"]
    assert g["pages_p50_ratio"] == 2.8 and g["calibration_ratio"] == 1.4
    assert g["pages_p50_ratio_calibrated"] == 2.0 and g["sublinear"] is True
    # and a genuinely super-linear step stays super-linear
    g = fleet_growth(_fleets({20: 70.0, 50: 210.0}, {20: 50.0, 50: 50.0}), (20, 50))["20_to_50"]
    assert g["pages_p50_ratio_calibrated"] == 3.0 and g["sublinear"] is False
