"""Simulator vs real series: the scatter figures the maintenance detectors see, measured alike.

One measurement, :func:`scatter_figures`, is applied to the real series of
:mod:`heliosgrid.maintenance.realdata` (NREL files in the ``pvanalytics`` wheel) and to simulator
output, through the maintenance code itself: readings → ``rollup_15m`` → ``device_frames`` →
``analyse_site_detail`` (whose learned thresholds carry the model-ratio scatter, reused, not
re-implemented) and ``site_features`` + ``clear_mask`` for the clear, healthy buckets. Per
inverter:

* ``ratio_sigma`` / ``daily_ratio_sigma``: robust spread of the calibrated measured/expected AC
  ratio on clear buckets, and of its daily medians (:func:`heliosgrid.maintenance.learning.learn_thresholds`);
* ``poa_clearsky_sigma``: short-term spread of POA / clear-sky POA on clear buckets
  (1.4826·MAD of bucket-to-bucket differences ÷ √2: sensor noise plus atmosphere);
* ``tmod_resid_sigma_c``: spread of measured module temperature − the steady-state Faiman model
  fitted to the device (clear buckets);
* ``tmod_lag_min``: the first-order time constant τ (minutes) that best aligns the steady-state
  model with the measured module temperature on daylight buckets (grid search, 0–40 min);
* ``cadence_s``: the reporting interval inferred from the data (:func:`~heliosgrid.maintenance.frames.infer_interval_s`).

``heliosgrid simulate realism --json`` prints :func:`compare` (real vs simulator with the
default :data:`~heliosgrid.simulation.noise.REALISTIC` profile, also with every device reporting
every 15 min, and without noise); ``docs/maintenance.md``
("Simulator vs real series") holds its table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from heliosgrid.physics import SiteSpec

LAG_GRID_MIN = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0)
"""Candidate module-temperature time constants (minutes)."""
SIM_DAYS = 14
"""Days of simulator output compared (one site of the demo fleet, fault-free)."""


def _mad_sigma(values: np.ndarray) -> float | None:
    v = values[np.isfinite(values)]
    if len(v) < 8:
        return None
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def lagged(series: pd.Series, tau_min: float, step_min: float) -> pd.Series:
    """First-order lag (time constant ``tau_min`` minutes) of an evenly spaced ``series``."""
    if tau_min <= 0:
        return series
    filled = series.interpolate(limit_direction="both")
    a = float(np.exp(-step_min / tau_min))
    first = float(filled.iloc[0]) if len(filled) else 0.0
    out, _ = lfilter([1.0 - a], [1.0, -a], filled.to_numpy(dtype=float), zi=[a * first])
    return pd.Series(out, index=series.index).where(series.notna())


def _lag_fit(measured: pd.Series, model: pd.Series, daylight: pd.Series, step_min: float) -> float | None:
    """τ (minutes) of :data:`LAG_GRID_MIN` minimising the robust spread of measured − lagged model."""
    best: tuple[float, float] | None = None
    for tau in LAG_GRID_MIN:
        resid = (measured - lagged(model, tau, step_min))[daylight].to_numpy(dtype=float)
        s = _mad_sigma(resid)
        if s is not None and (best is None or s < best[1] - 1e-9):
            best = (tau, s)
    return None if best is None else best[0]


def _round(v: float | None, n: int) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), n)


def _device_figures(f: pd.DataFrame, k: float, timezone: str, u0: float | None) -> dict[str, Any]:
    """The figures of one inverter's feature frame ``f`` (module doc)."""
    from heliosgrid.maintenance.learning import clear_mask, learn_thresholds

    healthy = pd.Series(True, index=f.index)
    clear = clear_mask(f, healthy)
    learned = learn_thresholds(f, k, healthy, timezone)
    poa_cs = (f["poa_used_w_m2"] / f["clearsky_poa_w_m2"].where(f["clearsky_poa_w_m2"] > 0))[clear]
    poa_diff = poa_cs.diff()[clear.shift(1, fill_value=False)[clear]].to_numpy(dtype=float)
    sigma_poa = _mad_sigma(poa_diff)
    tmod = f["module_temp_c_avg"]
    has_tmod = bool(tmod.notna().sum() >= 8)
    resid = (tmod - f["tmod_model_c"])[clear].to_numpy(dtype=float)
    daylight = f["daylight"] & f["poa_used_w_m2"].gt(50) & tmod.notna()
    return {
        "clear_buckets": int(clear.sum()),
        "calibration_factor": _round(k, 3),
        "ratio_sigma": _round(learned.sigma, 4),
        "daily_ratio_sigma": _round(learned.sigma_day, 4),
        "poa_clearsky_sigma": _round(sigma_poa / np.sqrt(2.0) if sigma_poa is not None else None, 4),
        "tmod_resid_sigma_c": _round(_mad_sigma(resid), 2) if has_tmod else None,
        "tmod_lag_min": _lag_fit(tmod, f["tmod_model_c"], daylight, 15.0) if has_tmod else None,
        "thermal_u0_w_m2_k": _round(u0, 1),
    }


def scatter_figures(site: SiteSpec, readings: pd.DataFrame) -> dict[str, Any]:
    """The scatter figures (module doc) of ``site``: the median over its inverters, all buckets
    taken as healthy (the series are fault-free), so no detector's verdict shapes the measurement."""
    from heliosgrid.maintenance.expected import calibration_factor, site_features
    from heliosgrid.maintenance.frames import bucket_grid, device_frames, rollup_15m
    from heliosgrid.maintenance.learning import fit_faiman_u0

    first = pd.Timestamp(readings["ts"].min())
    end = pd.Timestamp(readings["ts"].max()).floor("15min") + pd.Timedelta(minutes=15)
    frames = device_frames(rollup_15m(readings), site, bucket_grid(first.floor("15min"), end),
                           monitoring_start={d: first for d in readings["device_id"].unique()})
    ambient = pd.concat([f["ambient_temp_c_avg"] for f in frames.values()], axis=1).median(axis=1)
    u0 = {d.device_id: fit_faiman_u0(frames[d.device_id]["poa_w_m2_avg"], frames[d.device_id]["module_temp_c_avg"], ambient)
          for d in site.inverters}
    feats = site_features(site, frames, u0)
    per_device = [
        _device_figures(feats[d.device_id], calibration_factor(feats[d.device_id]), site.timezone, u0[d.device_id])
        for d in site.inverters
    ]
    out: dict[str, Any] = {"cadence_s": sorted(float(frames[d.device_id]["interval_s"].iloc[0]) for d in site.devices)}
    for key in per_device[0]:
        values = [v[key] for v in per_device if v[key] is not None]
        out[key] = _round(float(np.median(values)), 4) if values else None
    return out


def real_figures(names: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`scatter_figures` of each real series (all of ``realdata.CORPUS`` by default)."""
    from heliosgrid.maintenance.realdata import load_corpus

    out: dict[str, dict[str, Any]] = {}
    for s in load_corpus(names):
        out[s.name] = {**scatter_figures(s.site, s.readings), "sensors": list(s.sensors), "days": s.days}
    return out


SIM_START = pd.Timestamp("2026-04-01", tz="UTC")
SIM_SITE = "us-golden"
"""The simulated plant compared: the demo fleet's Golden, CO site (the NREL series' location)."""


def simulator_figures(noise: Any = "default", *, days: int = SIM_DAYS, seed: int = 3) -> dict[str, Any]:
    """:func:`scatter_figures` of the simulator's fault-free ``us-golden`` over ``days`` days
    (``noise``: a :class:`~heliosgrid.simulation.noise.NoiseProfile`, None, or "default" = REALISTIC)."""
    from heliosgrid.physics import demo_fleet
    from heliosgrid.simulation.noise import REALISTIC
    from heliosgrid.simulation.simulator import simulate_fleet

    profile = REALISTIC if noise == "default" else noise
    site = next(s for s in demo_fleet() if s.site_id == SIM_SITE)
    sim = simulate_fleet([site], SIM_START, SIM_START + pd.Timedelta(days=days), seed=seed, faults=None, noise=profile)
    return scatter_figures(site, sim.readings)


BAND_SERIES = ("serf-west-15min", "rsf2-15min", "snow-15min")
"""Real series with a measured POA sensor at their own cadence: the band the simulator must sit in
(the 1-min SERF series is interpolated, SERF east's POA is satellite-derived: shown, not banded)."""
BAND_FIGURES = ("ratio_sigma", "daily_ratio_sigma", "poa_clearsky_sigma", "tmod_resid_sigma_c", "tmod_lag_min")
BAND_MARGIN = 0.25
"""The band is [min × (1 − margin), max × (1 + margin)] of the banded real series."""


def band(real: dict[str, dict[str, Any]], figure: str) -> tuple[float, float] | None:
    """The documented band of ``figure`` around the real measured-POA series (:data:`BAND_MARGIN`)."""
    values = [real[n][figure] for n in BAND_SERIES if n in real and real[n].get(figure) is not None]
    if not values:
        return None
    return round(min(values) * (1 - BAND_MARGIN), 4), round(max(values) * (1 + BAND_MARGIN), 4)


def compare(real_names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Real figures, simulator figures (REALISTIC and no noise) and, per figure, the band and
    whether the realistic simulator sits in it."""
    real = real_figures(real_names)
    sim = simulator_figures()
    exact = simulator_figures(None)
    from heliosgrid.simulation.noise import REALISTIC

    coarse = simulator_figures(REALISTIC.with_intervals({}, 900))
    bands: dict[str, Any] = {}
    for figure in BAND_FIGURES:
        b = band(real, figure)
        v = sim.get(figure)
        bands[figure] = {"band": b, "simulator": v, "inside": b is not None and v is not None and b[0] <= v <= b[1]}
    return {"real": real, "simulator": sim, "simulator_15min": coarse, "simulator_no_noise": exact, "bands": bands}


def markdown_table(result: dict[str, Any]) -> str:
    """The "Simulator vs real series" table of ``docs/maintenance.md`` from :func:`compare`."""
    cols = ("cadence_s", "clear_buckets", *BAND_FIGURES)
    head = ("| series | cadence (s) | clear buckets | ratio σ | daily ratio σ | POA/clear-sky σ "
            "| T_mod − model σ (°C) | T_mod lag τ (min) |")
    lines = [head, "|" + "---|" * (len(cols) + 1)]

    def cell(v: Any) -> str:
        if isinstance(v, list):
            return "/".join(f"{x:g}" for x in sorted(set(v)))
        return "—" if v is None else f"{v:g}"

    rows = [(n, r) for n, r in result["real"].items()]
    rows += [("**simulator, realistic noise**", result["simulator"]),
             ("simulator, realistic noise, 15-min reporting", result["simulator_15min"]),
             ("simulator, no noise", result["simulator_no_noise"])]
    for name, r in rows:
        lines.append(f"| {name} | " + " | ".join(cell(r.get(c)) for c in cols) + " |")
    lines.append("| band (measured-POA real series ±25 %) | | | " + " | ".join(
        "—" if result["bands"][f]["band"] is None else f"{result['bands'][f]['band'][0]:g}–{result['bands'][f]['band'][1]:g}"
        for f in BAND_FIGURES) + " |")
    return "\n".join(lines)
