"""The band source of each horizon bucket: where the conformal P10–P90 band is centred (ADR 0250).

A band is ``P10 = c + lower × scale_lo`` and ``P90 = c + upper × scale_hi`` with the climatological band
scales (:mod:`heliosgrid.forecast.conformal`) and adaptive conformal offsets. Its centre ``c`` is
``w × P50 + (1 − w) × P50_clim``: the forecast's own P50 (``w = 1``), the climatological median of the
target slot over the last 14 days (``w = 0``, i.e. conformalised climatological quantiles), or halfway.
The forecast's P50 is reported unchanged; P10 ≤ P50 ≤ P90 is kept by widening.

Why: the P50 of the point champion minimises squared error, and at 6–48 h it is a mean, not a median;
a band centred on it lost to the climatological quantiles in pinball loss on most corpus cells, a band
centred on the climatological median did not lose as much. Which centre is best differs per bucket and
site, so each bucket keeps one :class:`OnlineBand` per centre and issues the band of the centre whose
bands had the lowest P10/P90 pinball loss over the forecasts of the last :data:`WINDOW_DAYS` days of issue
times that have matured (starting with the end of the training hold-out); the bands' scores use the same
window, the production online replay's (ADR 0300). The adaptive miss levels of every centre's band are driven by the misses of
the band actually issued, so switching centres does not escape the coverage control (ACI's long-run
coverage holds for any sequence of nested bands). All of it uses only forecasts matured before the
issue time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from heliosgrid.forecast.conformal import ACI_GAMMA, ACI_GAMMA_UNLAGGED, OnlineBand, band_from_offsets, floored_scale, scores
from heliosgrid.forecast.metrics import HORIZON_BUCKETS, bucket_of
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


def band_centre(p50_kw: np.ndarray, clim_p50_kw: np.ndarray, weight: float | np.ndarray) -> np.ndarray:
    """``weight × P50 + (1 − weight) × P50_clim`` (kW; ``weight`` one value or one per sample); the P50
    where the climatological median is unknown."""
    clim = np.where(np.isfinite(clim_p50_kw), clim_p50_kw, p50_kw)
    return np.asarray(weight * p50_kw + (1.0 - weight) * clim)


def tail_pinball(y_kw: np.ndarray, p10_kw: np.ndarray, p90_kw: np.ndarray) -> np.ndarray:
    """Per sample, the pinball loss (kW) of P10 at q = 0.1 plus that of P90 at q = 0.9."""
    d10, d90 = y_kw - p10_kw, y_kw - p90_kw
    return np.asarray(np.maximum(0.1 * d10, -0.9 * d10) + np.maximum(0.9 * d90, -0.1 * d90))


@dataclass
class BandSource:
    """One bucket's conformal bands, one per centre weight, and their recent P10/P90 pinball losses."""

    bands: dict[float, OnlineBand] = field(default_factory=dict)
    losses: dict[float, np.ndarray] = field(default_factory=dict)
    #: Issue time (ns) of each loss.
    loss_times: dict[float, np.ndarray] = field(default_factory=dict)

    def choice(self) -> float:
        """The centre weight with the lowest mean recent loss (ties and no data: the first weight)."""
        means = {w: float(np.mean(v)) if v.size else np.inf for w, v in self.losses.items()}
        return min(self.bands, key=lambda w: (means.get(w, np.inf), CENTRE_WEIGHTS.index(w)))

    def record(self, weight: float, r_lo: np.ndarray, r_hi: np.ndarray, loss: np.ndarray,
               misses: tuple[float, float] | None, issued_ns: np.ndarray, now_ns: int) -> None:
        """Matured forecasts (issued at ``issued_ns``) of the band centred with ``weight``: their scores and
        their losses, keeping the last :data:`WINDOW_DAYS` of issue times before ``now_ns``; ``misses`` = the
        lower/upper miss rates of the bands actually issued for them (they drive every centre's adaptive
        level, so the coverage of what is issued is what ACI controls)."""
        oldest = now_ns - _WINDOW_NS
        self.bands[weight].update(r_lo, r_hi, misses, issued_ns=issued_ns, oldest_ns=oldest)
        ok = np.isfinite(loss)
        losses = np.concatenate([self.losses.get(weight, np.zeros(0)), loss[ok]])
        times = np.concatenate([self.loss_times.get(weight, np.zeros(0, dtype=np.int64)), issued_ns[ok]])
        self.losses[weight], self.loss_times[weight] = losses[times >= oldest], times[times >= oldest]


def _rows_band(p50: np.ndarray, clim: np.ndarray, s_lo: np.ndarray, s_hi: np.ndarray, weight: float,
               offsets: tuple[float, float], capacity_kw: float) -> tuple[np.ndarray, np.ndarray]:
    c = band_centre(p50, clim, weight)
    p10, p90 = band_from_offsets(c, s_lo, s_hi, offsets[0], offsets[1], capacity_kw)
    return np.minimum(p10, p50), np.maximum(p90, p50)


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
    """Per bucket, the bands of every centre started on the hold-out (columns ``bucket, y_kw, p50_kw,
    clim_p50_kw, scale_lo_kw, scale_hi_kw``) and their in-sample hold-out losses."""
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
            p10, p90 = _rows_band(p50, clim, s_lo, s_hi, w, src.bands[w].offsets(), capacity_kw)
            loss = tail_pinball(y, p10, p90)
            ok = np.isfinite(loss) & (s_lo > 1e-9) & recent
            src.losses[w], src.loss_times[w] = loss[ok], issued[ok]
        out[b] = src
    return out


def _ns(values: pd.Series | np.ndarray) -> np.ndarray:
    """Timestamps (datetime64 or int ns) as int64 ns since the epoch (UTC)."""
    v = np.asarray(values)
    return np.asarray(v.astype(np.int64) if v.dtype.kind in "iu" else pd.DatetimeIndex(v).asi8, dtype=np.int64)


def apply_source_bands(rows: pd.DataFrame, sources: dict[str, BandSource], capacity_kw: float) -> pd.DataFrame:
    """Replace P10/P90 of one model's rows (columns ``issued_at, target_ts, horizon_min, p50_kw, actual_kw,
    clim_p50_kw, scale_lo_kw, scale_hi_kw``) by the band of each bucket's chosen centre, in issue-time order;
    a forecast feeds the bands and losses once its target has been measured (``target + 15 min``). Adds
    ``band_centre_weight``. ``sources`` is updated in place (its final state is the production start)."""
    rows = rows.sort_values(["issued_at", "horizon_min"]).reset_index(drop=True)
    origins = np.sort(rows["issued_at"].unique())
    bucket = bucket_of(rows["horizon_min"].to_numpy())
    y, p50, clim = (rows[c].to_numpy(dtype=float) for c in ("actual_kw", "p50_kw", "clim_p50_kw"))
    s_lo, s_hi = (floored_scale(rows[c].to_numpy(dtype=float), capacity_kw) for c in ("scale_lo_kw", "scale_hi_kw"))
    mature_at = np.searchsorted(pd.DatetimeIndex(origins).asi8, (pd.DatetimeIndex(rows["target_ts"]) + STEP).asi8,
                                side="left")
    issued_pos = np.searchsorted(origins, rows["issued_at"].to_numpy())
    origins_ns, issued_ns = _ns(origins), _ns(rows["issued_at"])
    issued = {w: (np.zeros(len(rows)), np.zeros(len(rows))) for w in CENTRE_WEIGHTS}
    r = {w: (scores(y, band_centre(p50, clim, w), s_lo), scores(y, band_centre(p50, clim, w), s_hi))
         for w in CENTRE_WEIGHTS}
    p10, p90, chosen = np.zeros(len(rows)), np.zeros(len(rows)), np.ones(len(rows))
    for b in HORIZON_BUCKETS:
        src = sources.get(b) or BandSource({w: OnlineBand(window=MAX_SCORES, times_ns=np.zeros(0, dtype=np.int64))
                                            for w in CENTRE_WEIGHTS})
        sources[b] = src
        for band in src.bands.values():
            band.gamma = aci_gamma(b, origins)
        in_b = bucket == b
        for i in range(len(origins)):
            new = in_b & (mature_at == i) & (issued_pos < i)
            if new.any():
                day = new & (s_lo > 1e-9) & np.isfinite(y)
                misses = (float(np.mean(y[day] < p10[day])), float(np.mean(y[day] > p90[day]))) if day.any() else None
                for w in src.bands:
                    loss = tail_pinball(y[new], issued[w][0][new], issued[w][1][new])
                    src.record(w, r[w][0][new], r[w][1][new], np.where(s_lo[new] > 1e-9, loss, np.nan), misses,
                               issued_ns[new], int(origins_ns[i]))
            sel = in_b & (issued_pos == i)
            for w in src.bands:
                lo, hi = _rows_band(p50[sel], clim[sel], s_lo[sel], s_hi[sel], w, src.bands[w].offsets(), capacity_kw)
                issued[w][0][sel], issued[w][1][sel] = lo, hi
            w_best = src.choice()
            p10[sel], p90[sel], chosen[sel] = issued[w_best][0][sel], issued[w_best][1][sel], w_best
    rows["p10_kw"], rows["p90_kw"], rows["band_centre_weight"] = p10, p90, chosen
    return rows


__all__ = ["CENTRE_WEIGHTS", "BandSource", "aci_gamma", "apply_source_bands", "band_centre", "start_sources", "tail_pinball"]
