"""A site's own morning shade is not an inverter trip; a trip at a time of day the plant is seen producing is.

Against the clear sky (a CSV without irradiance) or a sensor mounted above the array's shade, RSF II's roof,
dark until 09:00 on clear January mornings, read as a trip every morning (2 false trips in 5 days)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.maintenance import detectors as d
from heliosgrid.maintenance.detectors.trip import horizon_shaded
from heliosgrid.physics import DeviceSpec

DEVICE = DeviceSpec("x-inv01", "x", "inverter", 30, 180, dc_capacity_kw=120, ac_capacity_kw=100)


def _days(n: int, dark_until_h: float = 8.0, trip: tuple[int, float, float] | None = None,
          outage_day: int | None = None) -> pd.DataFrame:
    """``n`` days of 15-min buckets, sun 06:00–18:00 (UTC labels) under a clear-sky POA peaking at noon, the
    model expecting 80 kW; the plant dark until ``dark_until_h`` every morning (its shade), else 80 kW; ``trip``
    = (day, from h, to h) dead; ``outage_day`` dead all day."""
    idx = pd.date_range("2026-01-05", periods=n * 96, freq="15min", tz="UTC")
    hour = idx.hour + idx.minute / 60.0
    sun = (hour >= 6.0) & (hour < 18.0)
    ac = np.where(sun & (hour >= dark_until_h), 80.0, 0.0)
    day = (idx - idx[0]).days
    if trip is not None:
        ac[(day == trip[0]) & (hour >= trip[1]) & (hour < trip[2])] = 0.0
    if outage_day is not None:
        ac[day == outage_day] = 0.0
    clear = np.clip(1000.0 * np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    return pd.DataFrame({"sample_count": 15.0, "daylight": sun, "clearsky_poa_w_m2": np.where(sun, clear, 0.0),
                         "expected_ac_kw": np.where(sun, 80.0, 0.0), "ac_power_kw_avg": ac, "poa_w_m2_avg": 500.0,
                         "status_ok_count": 15.0}, index=idx)


def test_a_morning_dark_every_day_is_shade_not_a_trip() -> None:
    f = _days(5)
    assert d.detect_inverter_trip(f, DEVICE) == []
    dead = f["ac_power_kw_avg"] < 0.5
    shaded = horizon_shaded(f, dead & f["daylight"], 100.0)
    assert int(shaded.sum()) == 5 * 7  # 06:15–08:00 on each of 5 days (at 06:00 the sun is on the horizon)


def test_a_trip_bounded_by_production_or_at_an_hour_seen_producing_is_a_trip() -> None:
    (mid,) = d.detect_inverter_trip(_days(5, trip=(3, 10.0, 12.0)), DEVICE)
    assert mid.started_at == pd.Timestamp("2026-01-08 10:00", tz="UTC")
    # dark from sunrise until 10:00 on day 3 while 08:00–10:00 produced on the other days: the morning's
    # shade (06–08) stays shade, the rest is a trip
    (late,) = d.detect_inverter_trip(_days(5, trip=(3, 6.0, 10.0)), DEVICE)
    assert late.started_at == pd.Timestamp("2026-01-08 08:00", tz="UTC")


def test_a_day_without_any_output_is_a_trip_not_shade() -> None:
    (out,) = d.detect_inverter_trip(_days(5, outage_day=2), DEVICE)
    assert out.started_at.floor("D") == pd.Timestamp("2026-01-07", tz="UTC")


def test_a_dark_morning_on_the_first_day_is_not_yet_called_a_trip() -> None:
    """No other day to show the plant can produce then: no evidence of a fault (the warm-up of a new file)."""
    assert d.detect_inverter_trip(_days(1), DEVICE) == []


def _against_clear_sky(ac_kw: list[float]) -> pd.DataFrame:
    """One day's midday buckets judged against the clear sky (80 kW expected), then ``ac_kw``."""
    f = _days(2, dark_until_h=6.0).iloc[96 + 40 : 96 + 40 + len(ac_kw)].copy()
    f["ac_power_kw_avg"] = ac_kw
    f["clear_sky_reference"] = True
    return f


def test_against_the_clear_sky_a_storm_darkening_over_buckets_is_no_trip() -> None:
    """PVDAQ 50, 9 Jul 2011: 1.37 → 0.69 → 0.10 → 0.002 kW of 2.5 kW, then 0 under 30–50 W/m² of satellite
    irradiance; the clear sky expected 2 kW. A trip drops from its output within a bucket."""
    storm = [60.0, 44.0, 22.0, 3.3, 0.1, 0.0, 0.0, 0.0, 1.5, 5.0, 10.0, 12.0]
    assert d.detect_inverter_trip(_against_clear_sky(storm), DEVICE) == []
    (trip,) = d.detect_inverter_trip(_against_clear_sky([60.0, 60.0, 60.0, 0.0, 0.0, 0.0, 0.0, 60.0, 60.0]), DEVICE)
    for abrupt in ([60.0, 60.0, 30.0, 0.0, 0.0, 0.0, 60.0], [60.0, 60.0, 1.0, 0.0, 0.0, 0.0, 60.0]):
        assert len(d.detect_inverter_trip(_against_clear_sky(abrupt), DEVICE)) == 1  # within, at the end of a bucket
    assert trip.started_at == pd.Timestamp("2026-01-06 10:30", tz="UTC")  # (60 of 80 kW: a partial bucket)
    # the same storm with a POA sensor that saw it is judged by the sensor, not by the shape of the fall
    f = _against_clear_sky(storm)
    f["clear_sky_reference"] = False
    assert len(d.detect_inverter_trip(f, DEVICE)) == 1  # (the sensor would have lowered the expected power)


def test_against_the_clear_sky_a_trip_on_a_dull_day_falls_from_the_days_own_level() -> None:
    """12 kW of the 80 kW a clear sky would give, then nothing within a bucket: a trip, judged against the 2 h
    before, not against the clear sky (PVDAQ 50, 11 Feb 2012: missed when a fifth of the clear sky was asked)."""
    dull = [12.0, 11.0, 13.0, 12.0, 12.0, 11.0, 12.0, 12.0, 12.0, 12.0, 0.0, 0.0, 0.0, 0.0, 12.0]
    (trip,) = d.detect_inverter_trip(_against_clear_sky(dull), DEVICE)
    assert trip.started_at <= pd.Timestamp("2026-01-06 12:30", tz="UTC")
    fading = [12.0, 11.0, 13.0, 12.0, 12.0, 11.0, 12.0, 12.0, 6.0, 2.0, 0.0, 0.0, 0.0, 0.0, 12.0]
    assert d.detect_inverter_trip(_against_clear_sky(fading), DEVICE) == []  # a storm's fall, at that level too


def test_against_the_clear_sky_a_day_without_output_is_a_trip() -> None:
    f = _days(3, outage_day=1)
    f["clear_sky_reference"] = True
    (out,) = d.detect_inverter_trip(f, DEVICE)
    assert out.started_at.floor("D") == pd.Timestamp("2026-01-06", tz="UTC")


def test_a_trip_reaching_the_end_of_the_window_is_no_evening_shade() -> None:
    """The hourly DAG's window ends at the run time: a trip going on then has no production after it, yet it is
    not the day's evening edge (the sun has not set in the window), and at midday the sun is high anyway."""
    f = _days(1, dark_until_h=6.0).iloc[: 12 * 4]  # 00:00–12:00, dead from 11:00
    f.loc[f.index >= pd.Timestamp("2026-01-05 11:00", tz="UTC"), "ac_power_kw_avg"] = 0.0
    (trip,) = d.detect_inverter_trip(f, DEVICE)
    assert trip.started_at <= pd.Timestamp("2026-01-05 11:00", tz="UTC")


def test_against_the_clear_sky_a_cold_dull_day_is_no_snow() -> None:
    """Air below 0 °C and a fifth of the clear-sky model: with a POA sensor that would be snow on the modules
    (the sensor saw the light); against the clear sky it is a dull day, and a trip in it stays a trip. Output
    under a tenth of the clear sky in that air is snow either way."""
    from heliosgrid.maintenance.learning import snow_mask

    for share, clear_ref, snow in ((0.2, False, True), (0.2, True, False), (0.03, True, True)):
        f = _against_clear_sky([80.0 * share] * 16)
        f["clear_sky_reference"] = clear_ref
        f["ambient_ref_c"] = -2.0
        assert bool(snow_mask(f, 1.0).all()) is snow, (share, clear_ref)


def test_against_the_clear_sky_a_trip_that_began_at_low_sun_is_read_where_it_went_dark() -> None:
    """A UK January (pv-site-prediction's Sheffield Solar systems, 52–54° N): the clear-sky POA passes the 300 W/m²
    below which no bucket is judged dead only at 11:00 UTC. A trip from 10:00 was judged from 11:00, where the
    buckets before were already dark: no fall, no trip (1 of 2 trips found on each system). The fall is read
    where the output went dark."""
    f = _against_clear_sky([20.0, 22.0, 21.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 22.0])
    f["clearsky_poa_w_m2"] = [150.0, 180.0, 210.0, 240.0, 270.0, 290.0, 310.0, 330.0, 350.0, 360.0, 370.0, 375.0,
                              380.0, 380.0]
    (trip,) = d.detect_inverter_trip(f, DEVICE)
    assert trip.started_at <= f.index[4]  # (the partial bucket before it is taken in, as for every trip)
    # the same low-sun darkness reached over a storm's fading output is still no trip
    fading = f.copy()
    fading["ac_power_kw_avg"] = [20.0, 22.0, 12.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 22.0]
    assert d.detect_inverter_trip(fading, DEVICE) == []


def test_against_the_clear_sky_a_morning_dark_since_sunrise_fell_from_nothing() -> None:
    """PVDAQ 50, 7 Feb 2012 (no temperature in the file): snow kept the array dark from sunrise until 09:15.
    Read back to where it went dark, the fall reached the dawn, whose ratios are noise on a near-zero model
    (here 5 W on 10 W before sunrise): a false trip. Darkness since sunrise fell from nothing."""
    f = _days(3, dark_until_h=6.5)
    day1 = (f.index >= "2026-01-06 06:00") & (f.index < "2026-01-06 10:00")
    f.loc[day1, "ac_power_kw_avg"] = 0.0
    night = ~f["daylight"].to_numpy(dtype=bool)
    f.loc[night, "expected_ac_kw"] = 0.01
    f.loc[night, "ac_power_kw_avg"] = 0.005
    f["clear_sky_reference"] = True
    assert [t for t in d.detect_inverter_trip(f, DEVICE) if t.started_at.day == 6] == []
