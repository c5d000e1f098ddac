"""The band source of each horizon bucket: where the conformal P10–P90 band is centred (ADR 0250) and which
centre is issued as the P50 (ADR 0580).

A band is ``P10 = c + lower × scale_lo`` and ``P90 = c + upper × scale_hi`` with the climatological band
scales (:mod:`heliosgrid.forecast.conformal`) and adaptive conformal offsets. Its centre ``c`` is
``w × point + (1 − w) × P50_clim``: the forecast's own point forecast (``w = 1``), the climatological median
of the target slot over the last 14 days (``w = 0``, i.e. conformalised climatological quantiles), or halfway.

Why: the point forecast minimises squared error; at 6–48 h it is a mean, not a median. A band centred on it
lost to the climatological quantiles in pinball loss on most corpus cells, a band centred on the
climatological median did not lose as much. Which centre is best differs per bucket and site, so each
bucket keeps one :class:`OnlineBand` per centre and issues the band of the centre whose bands had the lowest
P10/P90 pinball loss over the forecasts of the last :data:`WINDOW_DAYS` days of issue times that have matured
(starting with the end of the training hold-out); the bands' scores use the same window, the production
online replay's (ADR 0300). The adaptive miss levels of every centre's band are driven by the misses of
the band actually issued, so switching centres does not escape the coverage control (ACI's long-run
coverage holds for any sequence of nested bands). The P50 is chosen the same way on the q = 0.5 loss: the
centre with the lowest recent absolute error (ADR 0580); the point forecast is kept as ``point_kw``.
P10 ≤ P50 ≤ P90 is kept by widening. All of it uses only forecasts matured before the issue time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from heliosgrid.forecast.conformal import ACI_GAMMA, ACI_GAMMA_UNLAGGED, OnlineBand, band_from_offsets, floored_scale, scores
from heliosgrid.forecast.handover import handover
from heliosgrid.forecast.metrics import BUCKET_EDGES_MIN, HORIZON_BUCKETS, bucket_of
from heliosgrid.forecast.solar import STEP

#: Weights of the forecast's P50 in the band centre (the rest is the climatological median).
CENTRE_WEIGHTS = (1.0, 0.5, 0.0)
#: Days of issue times whose matured forecasts make up each band's scores and the pinball losses that decide
#: the centre: the production online replay's window (``online.ONLINE_WINDOW_DAYS``), the same span in every
#: bucket (a window counted in samples spanned ~3 weeks at 6–24 h but ~2 months at 0–1 h).
WINDOW_DAYS = 14
#: Upper bound on the scores kept per band (memory; 14 days of 5-min issue times at 0–48 h).
MAX_SCORES = 200_000
_WINDOW_NS = int(WINDOW_DAYS * 86400e9)


def band_centre(point_kw: np.ndarray, clim_p50_kw: np.ndarray, weight: float | np.ndarray) -> np.ndarray:
    """``weight × point + (1 − weight) × P50_clim`` (kW; ``weight`` one value or one per sample); the point
    forecast where the climatological median is unknown."""
    clim = np.where(np.isfinite(clim_p50_kw), clim_p50_kw, point_kw)
    return np.asarray(weight * point_kw + (1.0 - weight) * clim)


def handed_over(horizon_min: np.ndarray, per_bucket: dict[str, float] | dict[str, np.ndarray],
                default: float = 1.0) -> np.ndarray:
    """Per target, a value chosen per horizon bucket (``per_bucket``: one value, or one per target, per bucket;
    missing buckets take ``default``) handed over linearly between adjacent buckets near their edges
    (:func:`heliosgrid.forecast.handover.handover`, ADR 0460), so a choice that differs between two buckets
    makes no cliff between neighbouring 15-min targets."""
    h = np.asarray(horizon_min, dtype=float)
    lower, upper, lam = handover(h, BUCKET_EDGES_MIN)
    values = np.vstack([np.broadcast_to(np.asarray(per_bucket.get(b, default), dtype=float), h.shape)
                        for b in HORIZON_BUCKETS])
    rows = np.arange(len(h))
    return np.asarray((1.0 - lam) * values[lower, rows] + lam * values[upper, rows])


def tail_pinball(y_kw: np.ndarray, p10_kw: np.ndarray, p90_kw: np.ndarray) -> np.ndarray:
    """Per sample, the pinball loss (kW) of P10 at q = 0.1 plus that of P90 at q = 0.9."""
    d10, d90 = y_kw - p10_kw, y_kw - p90_kw
    return np.asarray(np.maximum(0.1 * d10, -0.9 * d10) + np.maximum(0.9 * d90, -0.1 * d90))


@dataclass
class BandSource:
    """One bucket's conformal bands, one per centre weight, their recent P10/P90 pinball losses, and the
    recent absolute errors of each centre taken as the P50 (the median choice, ADR 0580)."""

    bands: dict[float, OnlineBand] = field(default_factory=dict)
    losses: dict[float, np.ndarray] = field(default_factory=dict)
    #: Issue time (ns) of each loss.
    loss_times: dict[float, np.ndarray] = field(default_factory=dict)
    #: Per centre weight, |actual − centre| (kW) of recent matured daylight forecasts, and their issue times.
    median_losses: dict[float, np.ndarray] = field(default_factory=dict)
    median_loss_times: dict[float, np.ndarray] = field(default_factory=dict)

    def choice(self) -> float:
        """The band centre weight with the lowest mean recent tail loss (ties and no data: the first weight)."""
        return _lowest(self.losses, list(self.bands))

    def median_choice(self) -> float:
        """The centre weight whose centre had the lowest mean recent absolute error, i.e. the best recent
        median: the issued P50 (ties and no data: the point forecast, weight 1)."""
        return _lowest(self.median_losses, list(self.bands))

    def record(self, weight: float, r_lo: np.ndarray, r_hi: np.ndarray, loss: np.ndarray,
               misses: tuple[float, float] | None, issued_ns: np.ndarray, now_ns: int,
               abs_error: np.ndarray | None = None) -> None:
        """Matured forecasts (issued at ``issued_ns``) of the band centred with ``weight``: their scores, their
        tail losses and (``abs_error``) the centre's absolute errors, keeping the last :data:`WINDOW_DAYS` of
        issue times before ``now_ns``; ``misses`` = the lower/upper miss rates of the bands actually issued for
        them (they drive every centre's adaptive level, so the coverage of what is issued is what ACI controls)."""
        oldest = now_ns - _WINDOW_NS
        self.bands[weight].update(r_lo, r_hi, misses, issued_ns=issued_ns, oldest_ns=oldest)
        self.losses[weight], self.loss_times[weight] = _keep_recent(
            self.losses.get(weight), self.loss_times.get(weight), loss, issued_ns, oldest)
        if abs_error is not None:
            self.median_losses[weight], self.median_loss_times[weight] = _keep_recent(
                self.median_losses.get(weight), self.median_loss_times.get(weight), abs_error, issued_ns, oldest)


def _lowest(losses: dict[float, np.ndarray], weights: list[float]) -> float:
    """The weight with the lowest mean loss; ties and weights without losses go to the earlier weight."""
    means = {w: float(np.mean(v)) if v.size else np.inf for w, v in losses.items()}
    return min(weights, key=lambda w: (means.get(w, np.inf), CENTRE_WEIGHTS.index(w)))


def _keep_recent(old: np.ndarray | None, old_times: np.ndarray | None, new: np.ndarray, new_times: np.ndarray,
                 oldest_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """``old`` + the finite values of ``new`` and their issue times, keeping those issued at or after ``oldest_ns``."""
    ok = np.isfinite(new)
    values = np.concatenate([old if old is not None else np.zeros(0), new[ok]])
    times = np.concatenate([old_times if old_times is not None else np.zeros(0, dtype=np.int64), new_times[ok]])
    return values[times >= oldest_ns], times[times >= oldest_ns]


def aci_gamma(bucket: str, origins: np.ndarray) -> float:
    """ACI step of a bucket's bands: :data:`ACI_GAMMA_UNLAGGED` when every forecast of the bucket is measured
    before the next issue time (no feedback lag, e.g. 0–1 h and 1–6 h at 6-hourly issues), else :data:`ACI_GAMMA`.

    ACI is an integral controller on the miss level that steps once per issue time; with its feedback
    delayed by several issue times (day-ahead forecasts mature one or two days later) a large step
    overshoots (the corpus day-ahead buckets under-covered at 0.1), without delay it is stable and the
    band follows a change of regime within a few issue times (ADR 0250, "ACI step per bucket")."""
    if len(origins) < 2:
        return ACI_GAMMA
    step_min = float(np.median(np.diff(pd.DatetimeIndex(origins).asi8))) / 60e9
    end_min = HORIZON_BUCKETS[bucket][1]
    return ACI_GAMMA_UNLAGGED if end_min <= step_min else ACI_GAMMA


def start_sources(hold: pd.DataFrame, capacity_kw: float) -> dict[str, BandSource]:
    """Per bucket, the bands of every centre started on the hold-out (columns ``bucket, y_kw, p50_kw``
    (the point forecast), ``clim_p50_kw, scale_lo_kw, scale_hi_kw``) and their in-sample hold-out losses."""
    out: dict[str, BandSource] = {}
    for b in HORIZON_BUCKETS:
        h = hold[hold["bucket"] == b]
        y, p50, clim = (h[c].to_numpy() for c in ("y_kw", "p50_kw", "clim_p50_kw"))
        s_lo, s_hi = (floored_scale(h[c].to_numpy(), capacity_kw) for c in ("scale_lo_kw", "scale_hi_kw"))
        issued = _ns(h["issued_at"])
        recent = issued >= (issued.max() - _WINDOW_NS if issued.size else 0)
        src = BandSource()
        for w in CENTRE_WEIGHTS:
            c = band_centre(p50, clim, w)
            src.bands[w] = OnlineBand(scores(y, c, s_lo)[recent], scores(y, c, s_hi)[recent], window=MAX_SCORES,
                                      times_ns=issued[recent])
            p10, p90 = band_from_offsets(c, s_lo, s_hi, *src.bands[w].offsets(), capacity_kw)
            loss = tail_pinball(y, p10, p90)
            ok = np.isfinite(loss) & (s_lo > 1e-9) & recent
            src.losses[w], src.loss_times[w] = loss[ok], issued[ok]
            src.median_losses[w], src.median_loss_times[w] = np.abs(y - c)[ok], issued[ok]
        out[b] = src
    return out


def _ns(values: pd.Series | np.ndarray) -> np.ndarray:
    """Timestamps (datetime64 or int ns) as int64 ns since the epoch (UTC)."""
    v = np.asarray(values)
    return np.asarray(v.astype(np.int64) if v.dtype.kind in "iu" else pd.DatetimeIndex(v).asi8, dtype=np.int64)


@dataclass
class _Replay:
    """One model's rows in issue-time order, as :func:`apply_source_bands` replays them (kW, ns)."""

    y: np.ndarray
    centres: dict[float, np.ndarray]
    s_lo: np.ndarray
    s_hi: np.ndarray
    mature_at: np.ndarray  # index of the first issue time at or after the target was measured
    issued_pos: np.ndarray  # index of the row's own issue time
    origins_ns: np.ndarray
    issued_ns: np.ndarray
    capacity_kw: float


def apply_source_bands(rows: pd.DataFrame, sources: dict[str, BandSource], capacity_kw: float) -> pd.DataFrame:
    """Replace P10/P50/P90 of one model's rows (columns ``issued_at, target_ts, horizon_min, p50_kw, actual_kw,
    clim_p50_kw, scale_lo_kw, scale_hi_kw``) by each bucket's choices, in issue-time order: the band of the
    centre with the lowest recent tail loss, and as P50 the centre with the lowest recent absolute error
    (ADR 0580). The model's own P50, its point forecast, is kept as ``point_kw`` (what nRMSE scores). A forecast
    feeds the bands and losses once its target has been measured (``target + 15 min``). Adds
    ``band_centre_weight`` and ``median_centre_weight``. ``sources`` is updated in place (its final state is the
    production start)."""
    rows = rows.sort_values(["issued_at", "horizon_min"]).reset_index(drop=True)
    if "point_kw" not in rows:
        rows["point_kw"] = rows["p50_kw"]
    origins = np.sort(rows["issued_at"].unique())
    point, clim = (rows[c].to_numpy(dtype=float) for c in ("point_kw", "clim_p50_kw"))
    s_lo, s_hi = (floored_scale(rows[c].to_numpy(dtype=float), capacity_kw) for c in ("scale_lo_kw", "scale_hi_kw"))
    rp = _Replay(rows["actual_kw"].to_numpy(dtype=float), {w: band_centre(point, clim, w) for w in CENTRE_WEIGHTS},
                 s_lo, s_hi,
                 np.searchsorted(pd.DatetimeIndex(origins).asi8, (pd.DatetimeIndex(rows["target_ts"]) + STEP).asi8,
                                 side="left"),
                 np.searchsorted(origins, rows["issued_at"].to_numpy()), _ns(origins), _ns(rows["issued_at"]),
                 capacity_kw)
    out = {c: np.zeros(len(rows)) for c in ("p10_kw", "p90_kw")} | {"band_centre_weight": np.ones(len(rows))}
    bucket = bucket_of(rows["horizon_min"].to_numpy())
    # per bucket, the median centre weight it chose at each row's issue time (for the hand-over between buckets)
    w_med: dict[str, np.ndarray] = {}
    for b in HORIZON_BUCKETS:
        src = sources.get(b) or BandSource({w: OnlineBand(window=MAX_SCORES, times_ns=np.zeros(0, dtype=np.int64))
                                            for w in CENTRE_WEIGHTS})
        sources[b] = src
        for band in src.bands.values():
            band.gamma = aci_gamma(b, origins)
        w_med[b] = _replay_bucket(rp, src, bucket == b, out)[rp.issued_pos]
    weight = handed_over(rows["horizon_min"].to_numpy(), w_med)
    p50 = band_centre(point, clim, weight)
    out |= {"p50_kw": p50, "median_centre_weight": weight, "p10_kw": np.minimum(out["p10_kw"], p50),
            "p90_kw": np.maximum(out["p90_kw"], p50)}
    for c, v in out.items():
        rows[c] = v
    return rows


def _replay_bucket(rp: _Replay, src: BandSource, in_b: np.ndarray, out: dict[str, np.ndarray]) -> np.ndarray:
    """Issue one bucket's P10/P90 at every issue time into ``out`` and feed ``src`` the matured forecasts;
    returns the median centre weight the bucket chose at each issue time (the P50 is set by the caller)."""
    y = rp.y
    issued = {w: (np.zeros(len(y)), np.zeros(len(y))) for w in src.bands}
    chosen = np.ones(len(rp.origins_ns))
    for i in range(len(rp.origins_ns)):
        new = in_b & (rp.mature_at == i) & (rp.issued_pos < i)
        if new.any():
            day = new & (rp.s_lo > 1e-9) & np.isfinite(y)
            # the issued bands before their widening to the P50 (set by the caller): widening only removes
            # misses, so the coverage ACI controls is, if anything, below what is issued
            p10, p90 = out["p10_kw"], out["p90_kw"]
            misses = (float(np.mean(y[day] < p10[day])), float(np.mean(y[day] > p90[day]))) if day.any() else None
            lit = rp.s_lo[new] > 1e-9
            for w in src.bands:
                c = rp.centres[w][new]
                loss = tail_pinball(y[new], issued[w][0][new], issued[w][1][new])
                src.record(w, scores(y[new], c, rp.s_lo[new]), scores(y[new], c, rp.s_hi[new]),
                           np.where(lit, loss, np.nan), misses, rp.issued_ns[new], int(rp.origins_ns[i]),
                           np.where(lit, np.abs(y[new] - c), np.nan))
        sel = in_b & (rp.issued_pos == i)
        for w in src.bands:
            issued[w][0][sel], issued[w][1][sel] = band_from_offsets(rp.centres[w][sel], rp.s_lo[sel], rp.s_hi[sel],
                                                                     *src.bands[w].offsets(), rp.capacity_kw)
        w_band = src.choice()
        chosen[i] = src.median_choice()
        out["p10_kw"][sel], out["p90_kw"][sel] = issued[w_band][0][sel], issued[w_band][1][sel]
        out["band_centre_weight"][sel] = w_band
    return chosen


__all__ = ["CENTRE_WEIGHTS", "BandSource", "aci_gamma", "apply_source_bands", "band_centre", "handed_over", "start_sources",
           "tail_pinball"]
