"""String outage: the episode's whole span must lose energy too, against the week before it (the
cloudy "clear" buckets of a satellite reference are not a lost string)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.string_outage import span_confirms


def _days(ratios: list[float]) -> pd.DataFrame:
    """One row per 15-min bucket, 06:00–18:00 daylight, expected 10 kW, actual = the day's ratio × 10."""
    idx = pd.date_range("2026-05-01", periods=96 * len(ratios), freq="15min", tz="UTC")
    hour = idx.hour + idx.minute / 60.0
    daylight = (hour >= 6) & (hour < 18)
    ratio = np.repeat(ratios, 96)
    return pd.DataFrame({"daylight": daylight, "sample_count": 15.0, "expected_ac_kw": np.where(daylight, 10.0, 0.0),
                         "ac_power_kw_avg": np.where(daylight, 10.0 * ratio, 0.0)}, index=idx)


def _span(f: pd.DataFrame, day: int, days: int = 1) -> tuple[int, int]:
    return 96 * day + 24, 96 * (day + days - 1) + 72


def test_a_lost_string_loses_over_its_whole_span_clouds_do_not() -> None:
    f = _days([0.9] * 7 + [0.9 * 0.75] * 2)
    busy = pd.Series(False, index=f.index)
    assert span_confirms(f, 1.0, busy, *_span(f, 7, 2), loss=0.25)
    # The CUSUM saw −25 % on a few "clear" buckets, but the day as a whole kept its usual ratio.
    cloudy = _days([0.9] * 8)
    assert not span_confirms(cloudy, 1.0, busy, *_span(cloudy, 7), loss=0.25)


def test_the_reference_week_leaves_out_trips_and_the_devices_other_episodes() -> None:
    """A second outage the day after a first one: compared with the healthy days, not with the first loss."""
    f = _days([0.9] * 2 + [0.6] * 5 + [0.6])
    busy = pd.Series(False, index=f.index)
    assert not span_confirms(f, 1.0, busy, *_span(f, 7), loss=0.3)
    others = pd.Series(False, index=f.index)
    others.iloc[96 * 2 : 96 * 7] = True
    assert span_confirms(f, 1.0, busy, *_span(f, 7), loss=0.3, others=others)
    assert span_confirms(f, 1.0, others, *_span(f, 7), loss=0.3)  # trips and gaps likewise


def test_a_young_device_without_a_reference_week_is_not_held_back() -> None:
    f = _days([0.9 * 0.75])
    assert span_confirms(f, 1.0, pd.Series(False, index=f.index), *_span(f, 0), loss=0.25)
