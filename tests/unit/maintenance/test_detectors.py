"""Each detector on a planted fault (detects, at the right device and time) and on clean data (silent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from maintenance_plant import PLANTED, Plant

from heliosgrid.maintenance import detectors as d
from heliosgrid.maintenance.detectors import FAULT_TYPES, Finding
from heliosgrid.physics import DeviceSpec


def _overlaps(f: Finding, start: pd.Timestamp, end: pd.Timestamp, slack_h: float = 1.0) -> bool:
    slack = pd.Timedelta(hours=slack_h)
    return f.started_at < end + slack and f.ended_at > start - slack


@pytest.mark.parametrize("spec", PLANTED, ids=lambda s: f"{s.fault_type}-{s.device_id}")
def test_planted_fault_is_found_on_its_device(faulty_findings: list[Finding], spec) -> None:  # type: ignore[no-untyped-def]
    hits = [f for f in faulty_findings if f.fault_type == spec.fault_type and f.device_id == spec.device_id]
    assert hits, f"{spec.fault_type} on {spec.device_id} not detected"
    assert any(_overlaps(f, spec.started_at, spec.ended_at) for f in hits)
    for f in hits:
        assert f.recommended_action and f.title and f.detected_at >= f.started_at


def test_no_false_fault_findings_on_faulty_plant(faulty_findings: list[Finding]) -> None:
    planted = {(s.device_id, s.fault_type) for s in PLANTED}
    wrong = [f for f in faulty_findings if f.fault_type in FAULT_TYPES and (f.device_id, f.fault_type) not in planted]
    assert wrong == []


@pytest.mark.parametrize("fault_type", FAULT_TYPES)
def test_clean_plant_is_silent(clean_findings: list[Finding], fault_type: str) -> None:
    assert [f for f in clean_findings if f.fault_type == fault_type] == []


def test_trip_detected_within_an_hour_with_energy_close_to_truth(faulty_findings: list[Finding], faulty_plant: Plant) -> None:
    spec = PLANTED[0]
    (trip,) = [f for f in faulty_findings if f.fault_type == "inverter_trip"]
    assert trip.detected_at - spec.started_at <= pd.Timedelta(hours=1)
    truth = faulty_plant.truth.set_index(["device_id", "fault_type"]).loc[(spec.device_id, "inverter_trip"), "energy_lost_kwh"]
    assert trip.energy_lost_kwh == pytest.approx(float(truth), rel=0.10)
    assert trip.severity == "critical"


def test_string_outage_loss_fraction_and_delay(faulty_findings: list[Finding]) -> None:
    spec = PLANTED[1]
    (so,) = [f for f in faulty_findings if f.fault_type == "string_outage"]
    assert so.evidence["loss_fraction"] == pytest.approx(0.25, abs=0.05)
    assert so.detected_at - spec.started_at <= pd.Timedelta(hours=1.25)


def test_stuck_sensor_names_the_sensor(faulty_findings: list[Finding]) -> None:
    (stuck,) = [f for f in faulty_findings if f.fault_type == "stuck_sensor"]
    assert stuck.evidence["sensor"] == "poa_w_m2"


def test_sensor_faults_lose_no_energy(faulty_findings: list[Finding]) -> None:
    for f in faulty_findings:
        if f.fault_type in ("stuck_sensor", "irradiance_drift", "comm_gap"):
            assert f.energy_lost_kwh == 0.0


# --- hand-made frames ------------------------------------------------------------------------

DEVICE = DeviceSpec("x-inv01", "x", "inverter", 30, 180, dc_capacity_kw=300, ac_capacity_kw=250)


def _frame(n: int, expected_kw: float, actual_kw: float) -> pd.DataFrame:
    idx = pd.date_range("2026-06-01 10:00", periods=n, freq="15min", tz="UTC")
    return pd.DataFrame(
        {
            "sample_count": 15.0,
            "daylight": True,
            "expected_ac_kw": expected_kw,
            "ac_power_kw_avg": actual_kw,
            "poa_w_m2_avg": 800.0,
            "status_ok_count": 0.0,
        },
        index=idx,
    )


def test_energy_lost_hand_computed() -> None:
    # 4 buckets of 15 min with 100 kW expected and 0 kW produced: 4 × 0.25 h × 100 kW = 100 kWh.
    f = _frame(6, 100.0, 100.0)
    f.iloc[1:5, f.columns.get_loc("ac_power_kw_avg")] = 0.0
    (trip,) = d.detect_inverter_trip(f, DEVICE, k=1.0)
    assert trip.energy_lost_kwh == pytest.approx(100.0)
    assert trip.started_at == f.index[1] and trip.ended_at == f.index[5]
    # calibrated expectation: k = 0.98 → 98 kWh
    assert d.detect_inverter_trip(f, DEVICE, k=0.98)[0].energy_lost_kwh == pytest.approx(98.0)
    # loss_kwh: (90 − 60) kW × 0.25 h × 2 buckets = 15 kWh
    g = _frame(2, 90.0, 60.0)
    assert d.loss_kwh(g, 1.0, 0, 2) == pytest.approx(15.0)


def test_trip_needs_daylight() -> None:
    f = _frame(4, 100.0, 0.0)
    f["daylight"] = False
    assert d.detect_inverter_trip(f, DEVICE) == []


def _long_frame(days: int, rate_per_year: float) -> pd.DataFrame:
    idx = pd.date_range("2025-01-01", periods=days * 96, freq="15min", tz="UTC")
    hour = idx.hour + idx.minute / 60
    daylight = (hour >= 10) & (hour < 14)
    years = np.asarray((idx - idx[0]).total_seconds()) / (365.25 * 86400)
    rng = np.random.default_rng(3)
    expected = np.where(daylight, 200.0, 0.0)
    actual = expected * (1 + rate_per_year * years) * (1 + rng.normal(0, 0.01, len(idx)))
    return pd.DataFrame(
        {"sample_count": 15.0, "daylight": daylight, "expected_ac_kw": expected, "ac_power_kw_avg": actual}, index=idx
    )


def test_degradation_found_with_enough_history() -> None:
    (finding,) = d.detect_degradation(_long_frame(400, -0.03), DEVICE)
    assert finding.evidence["rate_per_year"] == pytest.approx(-0.03, abs=0.005)
    assert finding.energy_lost_kwh > 0


def test_degradation_silent_when_stable_or_short() -> None:
    assert d.detect_degradation(_long_frame(400, 0.0), DEVICE) == []
    assert d.detect_degradation(_long_frame(90, -0.05), DEVICE) == []


def test_clipping_is_informational(clean_plant: Plant) -> None:
    dev = clean_plant.device("es-tabernas-inv01")
    f = clean_plant.features[dev.device_id]
    found = d.detect_clipping(f, dev, timezone=clean_plant.site.timezone)
    assert found and all(x.severity == "info" and x.fault_type == "clipping" for x in found)
    big = DeviceSpec(dev.device_id, dev.site_id, "inverter", 30, 180, dc_capacity_kw=300, ac_capacity_kw=400)
    assert d.detect_clipping(f, big) == []


def test_runs_and_merge() -> None:
    mask = pd.Series([False, True, True, False, False, True, False, True])
    assert d.runs(mask) == [(1, 3), (5, 6), (7, 8)]
    bridge = np.array([False, False, False, True, True, False, False, False])
    assert d.merge_runs(d.runs(mask), bridge) == [(1, 6), (7, 8)]


def test_soiling_needs_the_power_to_confirm_it(clean_plant: Plant) -> None:
    """A model-ratio decline the metered power does not share (sensor artefact) is not soiling."""
    dev = clean_plant.device("es-tabernas-inv01")
    f = clean_plant.features[dev.device_id].copy()
    days = np.asarray((f.index - f.index[0]).total_seconds()) / 86400.0
    decline = 1.0 - 0.02 * days  # 2 %/day, reaching 12 % after 6 days
    f["ratio_expected"] = f["ratio_expected"] * decline
    f["poa_peer_ratio"] = 1.0
    assert d.detect_soiling(f, dev, timezone=clean_plant.site.timezone) == []
    f["peer_ratio"] = f["peer_ratio"] * decline  # now the power really falls behind the peers
    (found,) = d.detect_soiling(f, dev, timezone=clean_plant.site.timezone)
    assert found.evidence["loss_rate_per_day"] == pytest.approx(0.02, abs=0.005)


def test_soiling_without_peers_needs_the_clear_sky_to_confirm_it(clean_plant: Plant) -> None:
    """A single-inverter site: a model-ratio decline (irradiance reference error) with the power's
    clear-sky envelope unchanged is not soiling; the same decline in the metered power is."""
    dev = clean_plant.device("es-tabernas-inv01")
    f = clean_plant.features[dev.device_id].copy()
    days = np.asarray((f.index - f.index[0]).total_seconds()) / 86400.0
    decline = 1.0 - 0.02 * days
    f["peer_ratio"] = np.nan  # no peers
    f["poa_peer_ratio"] = 1.0
    f["ratio_expected"] = f["ratio_expected"] * decline
    assert d.detect_soiling(f, dev, timezone=clean_plant.site.timezone) == []
    f["ac_power_kw_avg"] = f["ac_power_kw_avg"] * decline  # the modules really lose power
    (found,) = d.detect_soiling(f, dev, timezone=clean_plant.site.timezone)
    assert found.evidence["loss_rate_per_day"] == pytest.approx(0.02, abs=0.005)


def test_clearsky_envelope_loss_sees_power_loss_not_sensor_drift(clean_plant: Plant) -> None:
    """The clear-sky power envelope has no sensor in it: a POA drift leaves it at 0, a real loss shows."""
    dev = clean_plant.device("es-tabernas-inv01")
    f = clean_plant.features[dev.device_id].copy()
    tz = clean_plant.site.timezone
    local_day = f.index.tz_convert(tz).normalize()
    ok = f["daylight"] & (f["sample_count"] >= 13)
    clean = d.clearsky_envelope_loss(f, dev, 1.0, ok, local_day).dropna()
    assert len(clean) >= 3 and clean.max() < 0.02
    f["poa_w_m2_avg"] = f["poa_w_m2_avg"] * 1.2  # a sensor drift does not touch it
    assert d.clearsky_envelope_loss(f, dev, 1.0, ok, local_day).dropna().max() < 0.02
    late = f.index >= f.index[0] + pd.Timedelta(days=3)
    f.loc[late, "ac_power_kw_avg"] = f.loc[late, "ac_power_kw_avg"] * 0.9  # 10 % less power
    lossy = d.clearsky_envelope_loss(f, dev, 1.0, ok, local_day).dropna()
    assert lossy[lossy.index >= pd.Timestamp(f.index[late][0]).tz_convert(tz).normalize() + pd.Timedelta(days=1)].min() > 0.07


def test_the_thresholds_table_documents_every_default_with_its_unit() -> None:
    from dataclasses import fields

    from heliosgrid.maintenance.detectors import thresholds

    doc = thresholds.__doc__ or ""
    rows = [line.split() for line in doc.splitlines() if line[:1].isalpha() and "_" in line.split()[0]]
    table = {row[0]: float(row[1]) for row in rows if len(row) > 1}
    units = thresholds.units()
    for f in fields(thresholds.Thresholds):
        assert table.get(f.name) == pytest.approx(float(getattr(thresholds.DEFAULT, f.name))), f.name
        assert units[f.name]


def test_snow_loss_without_a_module_sensor_reports_none_and_warns_nothing() -> None:
    """A satellite-POA station has no module temperature: the snow episode's evidence says None for it
    instead of a NaN median, and nothing is written to stderr (numpy's empty-slice warning)."""
    import warnings

    f = _frame(8, 50.0, 0.5)
    f["module_temp_c_avg"] = np.nan
    f["poa_used_w_m2"] = 600.0
    snow = pd.Series(True, index=f.index)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (finding,) = d.detect_snow_loss(f, DEVICE, 1.0, snow)
    assert finding.evidence["median_module_temp_c"] is None
    assert finding.evidence["median_poa_w_m2"] == pytest.approx(600.0)
    assert finding.energy_lost_kwh == pytest.approx(8 * 0.25 * 49.5)
