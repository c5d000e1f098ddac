"""Band centre chosen per bucket on matured forecasts (heliosgrid.forecast.bandsource)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.forecast.bandsource import CENTRE_WEIGHTS, apply_source_bands, start_sources, tail_pinball
from heliosgrid.forecast.metrics import bucket_of


def _rows(n_issues: int, seed: int, start: str = "2024-06-01") -> pd.DataFrame:
    """Forecasts issued every 6 h for 48 h: a clear-sky-like day curve times a CSI around a regime level that
    changes per issue time. The climatological median knows the regime, the P50 does not (a constant
    0.65 CSI), so only a band centred (partly) on the climatological median can be sharp."""
    rng = np.random.default_rng(seed)
    parts = []
    for issue in pd.date_range(start, periods=n_issues, freq="6h", tz="UTC"):
        h = np.arange(192) * 15
        targets = issue + pd.to_timedelta(h, unit="min")
        hour = targets.hour + targets.minute / 60
        cs = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None) * 100
        regime = rng.uniform(0.3, 1.0)
        k = np.clip(regime + rng.normal(0, 0.08, 192), 0, 1.2)
        parts.append(pd.DataFrame({"issued_at": issue, "target_ts": targets, "horizon_min": h, "actual_kw": cs * k,
                                   "p50_kw": cs * 0.65, "clim_p50_kw": cs * regime, "scale_lo_kw": cs * 0.1,
                                   "scale_hi_kw": cs * 0.1, "clearsky_kw": cs}))
    return pd.concat(parts, ignore_index=True)


def _hold(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(bucket=bucket_of(rows["horizon_min"].to_numpy()), y_kw=rows["actual_kw"])


def test_the_centre_with_the_lower_pinball_is_chosen_and_coverage_holds() -> None:
    hold, test = _rows(40, 1), _rows(60, 2, "2024-06-11")
    sources = start_sources(_hold(hold), 100.0)
    out = apply_source_bands(test, sources, 100.0)
    day = out["clearsky_kw"] > 5
    assert set(out.loc[day, "band_centre_weight"]) <= set(CENTRE_WEIGHTS)
    assert (out.loc[day, "band_centre_weight"] < 1.0).mean() > 0.9  # the climatological median centres better
    y = out.loc[day, "actual_kw"].to_numpy()
    p10, p90 = out.loc[day, "p10_kw"].to_numpy(), out.loc[day, "p90_kw"].to_numpy()
    assert 0.74 <= np.mean((p10 <= y) & (y <= p90)) <= 0.88
    assert (out["p10_kw"] <= out["p50_kw"]).all() and (out["p50_kw"] <= out["p90_kw"]).all()
    around_p50 = apply_source_bands(test, {b: _only_p50(s) for b, s in start_sources(_hold(hold), 100.0).items()}, 100.0)
    loss = tail_pinball(y, p10, p90).mean()
    loss_p50 = tail_pinball(y, around_p50.loc[day, "p10_kw"].to_numpy(), around_p50.loc[day, "p90_kw"].to_numpy()).mean()
    assert loss < loss_p50


def _only_p50(src):  # type: ignore[no-untyped-def]
    src.bands = {1.0: src.bands[1.0]}
    src.losses = {1.0: src.losses[1.0]}
    return src


def test_bands_issued_up_to_t_do_not_depend_on_actuals_after_t() -> None:
    hold, test = _rows(40, 1), _rows(40, 3, "2024-06-11")
    cut = pd.Timestamp("2024-06-16", tz="UTC")
    changed = test.copy()
    changed.loc[changed["target_ts"] >= cut, "actual_kw"] *= 0.2
    a = apply_source_bands(test, start_sources(_hold(hold), 100.0), 100.0)
    b = apply_source_bands(changed, start_sources(_hold(hold), 100.0), 100.0)
    early = a["issued_at"] <= cut
    pd.testing.assert_series_equal(a.loc[early, "p10_kw"], b.loc[early, "p10_kw"])
    pd.testing.assert_series_equal(a.loc[early, "p90_kw"], b.loc[early, "p90_kw"])
    assert not np.allclose(a.loc[~early, "p10_kw"], b.loc[~early, "p10_kw"])


def test_issued_band_misses_drive_the_adaptive_level() -> None:
    """The ACI step uses the given miss rates of the issued band, not the band's own: a band that would have
    covered everything still widens when the issued band missed below."""
    from heliosgrid.forecast.conformal import AIM_MISS, OnlineBand

    rng = np.random.default_rng(0)
    band = OnlineBand(rng.normal(size=500), rng.normal(size=500))
    inside = np.zeros(50)  # scores at 0: this band's own misses are 0 on both sides
    band.update(inside, inside, misses=(0.5, 0.0))
    assert band.a_lo < AIM_MISS < band.a_hi
    own = OnlineBand(rng.normal(size=500), rng.normal(size=500))
    own.update(inside, inside)
    assert own.a_lo > AIM_MISS and own.a_hi > AIM_MISS


def test_ensemble_artefacts_pickled_before_band_centres_still_load() -> None:
    """An EnsembleForecaster pickled without ``band_centre`` (before ADR 0250) or ``median_centre`` (before ADR 0580)
    loads with bands centred on the point forecast and the point forecast as its P50."""
    import pickle

    from heliosgrid.forecast.ensemble import EnsembleForecaster

    ens = EnsembleForecaster({}, {"0-1h": {"persistence": 1.0}}, {"0-1h": (-1.0, 1.0)}, {})
    state = dict(ens.__dict__)
    state.pop("band_centre")
    state.pop("median_centre")
    old = EnsembleForecaster.__new__(EnsembleForecaster)
    old.__setstate__(state)
    assert old.band_centre == {} and old.median_centre == {} and old.weights == ens.weights
    assert pickle.loads(pickle.dumps(ens)).band_centre == {}


def test_band_scale_floor_keeps_night_at_zero_and_lifts_dawn() -> None:
    from heliosgrid.forecast.conformal import floored_scale

    out = floored_scale(np.array([0.0, 0.01, 0.5, 3.0]), 10.0, 0.02)
    np.testing.assert_allclose(out, [0.0, 0.2, 0.5, 3.0])


def test_aci_step_is_larger_only_where_forecasts_mature_before_the_next_issue() -> None:
    from heliosgrid.forecast.bandsource import aci_gamma
    from heliosgrid.forecast.conformal import ACI_GAMMA, ACI_GAMMA_UNLAGGED

    six_hourly = pd.date_range("2024-06-01", periods=8, freq="6h", tz="UTC").to_numpy()
    hourly = pd.date_range("2024-06-01", periods=8, freq="1h", tz="UTC").to_numpy()
    assert [aci_gamma(b, six_hourly) for b in ("0-1h", "1-6h", "6-24h", "24-48h")] == [
        ACI_GAMMA_UNLAGGED, ACI_GAMMA_UNLAGGED, ACI_GAMMA, ACI_GAMMA]
    assert [aci_gamma(b, hourly) for b in ("0-1h", "1-6h")] == [ACI_GAMMA_UNLAGGED, ACI_GAMMA]
    assert aci_gamma("0-1h", six_hourly[:1]) == ACI_GAMMA


def test_low_sun_targets_do_not_set_the_midday_band() -> None:
    """Dawn/dusk targets with a near-zero climatological scale but ordinary kW errors: without the floor their
    scores explode and the score quantile widens the bright-hour band; with it the bright band stays sharp."""
    from heliosgrid.forecast import conformal

    hold, test = _rows(40, 1), _rows(40, 4, "2024-06-11")
    for frame in (hold, test):
        low = (frame["clearsky_kw"] > 0) & (frame["clearsky_kw"] < 10)
        frame.loc[low, ["scale_lo_kw", "scale_hi_kw"]] *= 0.01
    widths = []
    for frac in (0.0, conformal.SCALE_FLOOR_FRAC):
        old, conformal.SCALE_FLOOR_FRAC = conformal.SCALE_FLOOR_FRAC, frac
        try:
            out = apply_source_bands(test.copy(), start_sources(_hold(hold), 100.0), 100.0)
        finally:
            conformal.SCALE_FLOOR_FRAC = old
        bright = out["clearsky_kw"] > 50
        widths.append(float((out.loc[bright, "p90_kw"] - out.loc[bright, "p10_kw"]).mean()))
    assert widths[1] < widths[0]


def test_scores_older_than_the_window_leave_the_band() -> None:
    """The band keeps the scores of the last WINDOW_DAYS of issue times (like the production replay): two weeks
    after a calm hold-out, a band fed only wide errors is as wide as those errors alone make it."""
    from heliosgrid.forecast.bandsource import WINDOW_DAYS
    from heliosgrid.forecast.conformal import OnlineBand

    rng = np.random.default_rng(3)
    day_ns = int(86400e9)
    calm_t = np.repeat(np.arange(10) * day_ns, 50)
    band = OnlineBand(rng.normal(0, 0.1, 500), rng.normal(0, 0.1, 500), times_ns=calm_t, window=100_000)
    calm_hi = band.offsets()[1]
    for day in range(10, 10 + WINDOW_DAYS + 11):
        band.update(rng.normal(0, 1.0, 50), rng.normal(0, 1.0, 50), issued_ns=np.full(50, day * day_ns),
                    oldest_ns=(day - WINDOW_DAYS) * day_ns)
    assert band.times_ns is not None and band.times_ns.min() >= 10 * day_ns  # every calm score has left
    assert band.scores_hi.size == WINDOW_DAYS * 50 + 50
    assert band.offsets()[1] > 5 * calm_hi


def _skewed_rows(n_issues: int, seed: int, start: str, point_is_median: bool) -> pd.DataFrame:
    """Targets that are clear (CSI 0.95) 70 % of the time and cloudy (0.2) otherwise. The point forecast is the
    mean (0.725) or, with ``point_is_median``, the median (0.95) while the climatological median is stale (0.6)."""
    rows = _rows(n_issues, seed, start)
    rng = np.random.default_rng(seed + 100)
    cs = rows["clearsky_kw"].to_numpy()
    k = np.where(rng.random(len(rows)) < 0.7, 0.95, 0.2)
    return rows.assign(actual_kw=cs * k, p50_kw=cs * (0.95 if point_is_median else 0.725),
                       clim_p50_kw=cs * (0.6 if point_is_median else 0.95))


def test_the_p50_is_the_centre_with_the_lowest_recent_absolute_error_and_the_point_forecast_is_kept() -> None:
    """ADR 0580: a squared-error point forecast is the mean; where the outcome is skewed the climatological median
    is the better P50, and it is issued as the P50 while ``point_kw`` keeps the point forecast (what nRMSE scores)."""
    from heliosgrid.forecast.metrics import pinball_loss

    for point_is_median, weight in ((False, 0.0), (True, 1.0)):
        hold = _skewed_rows(40, 1, "2024-06-01", point_is_median)
        test = _skewed_rows(60, 2, "2024-06-11", point_is_median)
        out = apply_source_bands(test, start_sources(_hold(hold), 100.0), 100.0)
        day = out["clearsky_kw"] > 5
        assert (out.loc[day, "median_centre_weight"] == weight).mean() > 0.95
        point = test.sort_values(["issued_at", "horizon_min"])["p50_kw"].to_numpy()
        np.testing.assert_allclose(out["point_kw"].to_numpy(), point)
        y = out.loc[day, "actual_kw"].to_numpy()
        issued, own = (pinball_loss(y, out.loc[day, c].to_numpy(), 0.5) for c in ("p50_kw", "point_kw"))
        assert issued <= own
        if not point_is_median:
            assert issued < 0.8 * own
        assert (out["p10_kw"] <= out["p50_kw"]).all() and (out["p50_kw"] <= out["p90_kw"]).all()


def test_the_median_choice_is_handed_over_between_buckets_without_a_cliff() -> None:
    """Buckets that chose different P50 centres meet in a linear hand-over (ADR 0460), not a step between two
    neighbouring 15-min targets; away from the edge each bucket keeps its own choice (ADR 0580)."""
    from heliosgrid.forecast.bandsource import handed_over

    h = np.arange(192) * 15
    w = handed_over(h, {"0-1h": 1.0, "1-6h": 1.0, "6-24h": 0.0, "24-48h": 0.0})
    assert w[h < 300].min() == 1.0 and w[h >= 420].max() == 0.0
    assert np.abs(np.diff(w)).max() <= 0.15
    per_target = handed_over(h, {b: np.full(len(h), v) for b, v in (("0-1h", 1.0), ("1-6h", 1.0), ("6-24h", 0.0))})
    np.testing.assert_allclose(per_target[h < 1380], w[h < 1380])  # a missing bucket (24–48 h) takes the default
    assert per_target[h >= 1500].min() == 1.0
