"""What each device teaches about itself: thresholds from its own scatter, thermal model, snow.

**Learned thresholds.** A fixed 5-point step or 2 % soiling threshold suits a simulator whose
model ratio scatters by 1 %; real devices scatter by 3–10 % (sensor class, mounting, satellite
irradiance). Each run (so refreshed at least daily), per inverter, over the analysis window's
*clear, healthy* buckets — daylight, complete, not near clipping, not inside a found trip,
communication gap or sensor fault, with the irradiance used between 80 % and 130 % of its
clear-sky value (clouds passing make the model ratio scatter for reasons that are not the
device's) — the robust spread σ = 1.4826 · MAD of the calibrated ratio's residual against the
same time of day 24–48 h earlier (the string-outage test's own statistic), and σ_day of the
day-to-day differences of its daily medians (÷ √2, not inflated by a soiling trend). Outages
found with the ceiling thresholds are left out first, so a fault cannot raise its own
threshold. They set

* ``step_min`` = clip(4 σ, 0.05, 0.15), ``loss_level`` = 1 − ``step_min`` and the smoothing
  window ``string_window`` = 3 / 4 / 6 buckets for σ ≤ 3 % / ≤ 6 % / more, and above 3 % only
  buckets with irradiance ≥ 250 W/m² and ≥ 80 % of clear sky (string outage);
* ``soiling_loss`` = clip(3 σ_day, 0.02, 0.06) (soiling);
* ``drift_ratio`` = clip(3 σ_poa_day, 0.03, 0.08) (irradiance drift, σ of the daily POA/ref ratio);
* ``overheat_excess_c`` = max(8 °C, 4 × the spread of the module-temperature residual).

**Too noisy:** above σ = :data:`NOISY_SIGMA` (6 %) string outage and soiling are "not
evaluated" for the device, with the measured σ as the reason, instead of crying wolf; soiling
also when 3 σ_day exceeds its 6 % ceiling.

**Warm-up:** with fewer than :data:`WARMUP_CLEAR_BUCKETS` clear buckets on at least
:data:`WARMUP_DAYS` days the ceilings apply (the most conservative thresholds), and the
detectors that depend on them say so in the run result.

**Thermal model.** Per device the Faiman heat-loss coefficient ``u0`` (W/m²/K, no wind term:
most plants do not meter wind) is fitted to its own daylight buckets by least squares of
module − ambient temperature = POA / u0 over POA > 300 W/m², bounded to a physically plausible
range; the modelled module temperature is ``pvlib.temperature.faiman``. A rooftop array runs
hotter than an open rack, and that is its normal: only an excess over *its own* model is
overheating.

**Snow and frost.** Output well below the model (ratio < 0.5) in daylight while the module
temperature is ≤ :data:`SNOW_MODULE_TEMP_C` or ≥ 5 °C below its model in air ≤ 5 °C (modules
under snow or frost stay near 0 °C, insulated from the sun; a tripped array in the sun heats up
like a producing one) — or, without a module sensor, the
ambient temperature is ≤ :data:`SNOW_AMBIENT_TEMP_C`, or the whole day's daylight is that low in
air ≤ :data:`SNOW_DAY_AMBIENT_C` — is ``snow_loss``: informational, energy
counted, no truck roll.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pvlib

from heliosgrid.maintenance.detectors.base import clear_sky_reference, complete
from heliosgrid.maintenance.detectors.loss import earlier_base
from heliosgrid.maintenance.detectors.thresholds import DEFAULT, Thresholds
from heliosgrid.maintenance.frames import BUCKET_H

WARMUP_CLEAR_BUCKETS = 24
"""Clear healthy buckets (≈ 6 clear hours) needed before thresholds are learned."""
WARMUP_DAYS = 2
"""… spread over at least this many local days."""
CLEAR_POA_FRACTION = (0.8, 1.3)
"""Irradiance used / clear-sky POA range of a "clear" bucket."""
SNOW_MODULE_TEMP_C = 2.0
SNOW_AMBIENT_TEMP_C = 0.0
SNOW_RATIO = 0.5
CLEAR_SKY_SNOW_RATIO = 0.1
"""Against the clear sky (no irradiance at the site, ADR 0700) a dull day is half the model too: only output
under a tenth of the clear-sky model is the modules' snow (RSF II's cold dull January mornings, 2–11 kW of
87 kW, were read as snow and hid two trips)."""
SNOW_COLD_MARGIN_C = 5.0
"""… or module temperature this far below its model while the air is cold (≤ SNOW_AMBIENT_MAX_C)."""
SNOW_AMBIENT_MAX_C = 5.0
SNOW_DAY_AMBIENT_C = 3.0
"""Without a module sensor: a whole daylight period below SNOW_RATIO in air ≤ this is snow (wet
snow falls and lies at 0–3 °C air; reanalysis air temperature is ±2 °C)."""
SNOW_DAY_MIN_H = 4.0
FAIMAN_U0_RANGE = (10.0, 60.0)
"""Plausible Faiman u0 (W/m²/K): ≈ 15 insulated rooftop … 25 open rack … 45 windy open rack."""


NOISY_SIGMA = 0.06
"""Above this model-ratio scatter on clear buckets a step or soiling trend cannot be told from the
reference's own noise (satellite irradiance, a mismatched sensor): those detectors say so."""


@dataclass(frozen=True)
class Learned:
    """Per-device learned thresholds and the statistics behind them."""

    thresholds: Thresholds
    sigma: float | None
    sigma_day: float | None
    clear_buckets: int
    warm_up: bool

    @property
    def too_noisy(self) -> bool:
        return self.sigma is not None and self.sigma > NOISY_SIGMA

    @property
    def too_noisy_daily(self) -> bool:
        """Daily medians scatter so much that the soiling threshold would exceed its ceiling."""
        return self.too_noisy or (self.sigma_day is not None and 3 * self.sigma_day > CEILING.soiling_loss)

    def evidence(self) -> dict[str, Any]:
        return {
            "ratio_sigma": None if self.sigma is None else round(self.sigma, 4),
            "daily_ratio_sigma": None if self.sigma_day is None else round(self.sigma_day, 4),
            "clear_buckets": self.clear_buckets,
            "warm_up": self.warm_up,
            "too_noisy": self.too_noisy,
            "too_noisy_daily": self.too_noisy_daily,
            "step_min": round(self.thresholds.step_min, 4),
            "soiling_loss": round(self.thresholds.soiling_loss, 4),
            "string_window": self.thresholds.string_window,
            "overheat_excess_c": round(self.thresholds.overheat_excess_c, 2),
        }


CEILING = replace(
    DEFAULT,
    step_min=0.15,
    loss_level=0.85,
    soiling_loss=0.06,
    drift_ratio=0.08,
    string_window=6,
    string_min_clearness=0.8,
    string_min_poa_w_m2=250.0,
    overheat_excess_c=20.0,
)
"""Thresholds during warm-up: the ceilings of the learned ranges."""


def _mad_sigma(values: pd.Series) -> float:
    med = float(values.median())
    return float(1.4826 * (values - med).abs().median())


def clear_mask(f: pd.DataFrame, healthy: pd.Series) -> pd.Series:
    """Clear, healthy, complete daylight buckets away from clipping (see module doc)."""
    cs = f["clearsky_poa_w_m2"].where(f["clearsky_poa_w_m2"] > 0)
    index = f["poa_used_w_m2"] / cs
    lo, hi = CLEAR_POA_FRACTION
    return (
        f["daylight"]
        & complete(f)
        & f["ratio_expected"].notna()
        & ~f["near_clipping"]
        & (index >= lo)
        & (index <= hi)
        & healthy.reindex(f.index, fill_value=False)
    )


def learn_thresholds(f: pd.DataFrame, k: float, healthy: pd.Series, timezone: str) -> Learned:
    """Per-device thresholds from the robust spread of its calibrated model ratio (module doc)."""
    clear = clear_mask(f, healthy)
    r = (f["ratio_expected"] / k)[clear]
    day = f.index.tz_convert(timezone).normalize()[clear.to_numpy()]
    n_days = len(set(day))
    if len(r) < WARMUP_CLEAR_BUCKETS or n_days < WARMUP_DAYS:
        return Learned(CEILING, None, None, len(r), True)
    # Residual against the same time of day earlier — what the string-outage test compares —
    # with its robust spread (a step inside the window touches only the day of its onset).
    resid = r.to_numpy() - earlier_base(pd.DatetimeIndex(r.index), r.to_numpy())
    resid = resid[np.isfinite(resid)]
    sigma = (
        _mad_sigma(pd.Series(resid)) if len(resid) >= WARMUP_CLEAR_BUCKETS // 2 else _mad_sigma(r.diff().dropna()) / np.sqrt(2.0)
    )
    daily = r.groupby(day).median()
    # Day-to-day differences: a soiling trend in the window shifts them all alike and leaves their
    # spread (the noise a daily threshold must clear) unchanged.
    sigma_day = _mad_sigma(daily.diff().dropna()) / np.sqrt(2.0) if len(daily) >= 4 else sigma / 2
    poa_daily = f["poa_peer_ratio"][clear].groupby(day).median().dropna()
    sigma_poa = _mad_sigma(poa_daily) if len(poa_daily) >= 3 else 0.0
    step = float(np.clip(4 * sigma, DEFAULT.step_min, CEILING.step_min))
    th = replace(
        DEFAULT,
        string_window=3 if sigma <= 0.03 else 4 if sigma <= 0.06 else 6,
        string_min_clearness=0.0 if sigma <= 0.03 else CEILING.string_min_clearness,
        string_min_poa_w_m2=0.0 if sigma <= 0.03 else CEILING.string_min_poa_w_m2,
        step_min=step,
        loss_level=1.0 - step,
        soiling_loss=float(np.clip(3 * sigma_day, DEFAULT.soiling_loss, CEILING.soiling_loss)),
        drift_ratio=float(np.clip(3 * sigma_poa, DEFAULT.drift_ratio, CEILING.drift_ratio)),
        overheat_excess_c=overheat_threshold_c(f, clear),
    )
    return Learned(th, sigma, sigma_day, len(r), False)


def fit_faiman_u0(poa_w_m2: pd.Series, module_temp_c: pd.Series, ambient_temp_c: pd.Series) -> float | None:
    """Faiman ``u0`` (W/m²/K, wind term 0) from a device's own data; None with < 8 usable buckets.

    Least squares of rise = POA / u0 through the origin over POA > 300 W/m² (1/u0 = Σ POA·rise /
    Σ POA²): weighted to the bright hours where overheating is judged, so the thermal lag of
    mornings does not bias it. An overheating episode of a few hours moves it little.
    """
    rise = module_temp_c - ambient_temp_c
    ok = (poa_w_m2 > 300.0) & poa_w_m2.notna() & rise.notna()
    if ok.sum() < 8:
        return None
    inv_u0 = float((poa_w_m2[ok] * rise[ok]).sum() / (poa_w_m2[ok] ** 2).sum())
    if not inv_u0 > 0:
        return FAIMAN_U0_RANGE[1]
    return float(np.clip(1.0 / inv_u0, *FAIMAN_U0_RANGE))


def overheat_threshold_c(f: pd.DataFrame, clear: pd.Series) -> float:
    """Overheating threshold (°C): max(default, 4 × the robust spread of the module-temperature
    residual over clear healthy buckets) — a single-inverter site has no peers to cancel weather."""
    resid = (f["module_temp_c_avg"] - f["tmod_model_c"])[clear].dropna()
    if len(resid) < WARMUP_CLEAR_BUCKETS:
        return DEFAULT.overheat_excess_c
    return float(max(DEFAULT.overheat_excess_c, 4.0 * _mad_sigma(resid)))


def faiman_module_temp_c(poa_w_m2: pd.Series, ambient_temp_c: pd.Series, u0: float) -> pd.Series:
    """Module temperature (°C) of pvlib's Faiman model with the device's fitted ``u0`` and no wind term."""
    temp = pvlib.temperature.faiman(poa_w_m2.clip(lower=0.0), ambient_temp_c, wind_speed=0.0, u0=u0, u1=0.0)
    return pd.Series(np.asarray(temp, dtype="float64"), index=poa_w_m2.index)


def snow_mask(f: pd.DataFrame, k: float) -> pd.Series:
    """Daylight buckets whose shortfall is explained by snow or frost on the modules (module doc)."""
    ratio = f["ac_power_kw_avg"].fillna(0.0) / (f["expected_ac_kw"] * k)
    low = f["daylight"] & (f["sample_count"] > 0) & (ratio < (CLEAR_SKY_SNOW_RATIO if clear_sky_reference(f) else SNOW_RATIO))
    if "module_temp_c_avg" in f and f["module_temp_c_avg"].notna().any():
        tm = f["module_temp_c_avg"]
        # Covered modules stay near 0 °C, or far below the temperature the sun would give them
        # (snow insulates them from the irradiance); a tripped array heats up like a producing one.
        covered = (tm <= SNOW_MODULE_TEMP_C) | (
            (tm < f["tmod_model_c"] - SNOW_COLD_MARGIN_C) & (f["ambient_ref_c"] <= SNOW_AMBIENT_MAX_C)
        )
        cold = covered.where(tm.notna(), f["ambient_ref_c"] <= SNOW_AMBIENT_TEMP_C)
    else:
        cold = (f["ambient_ref_c"] <= SNOW_AMBIENT_TEMP_C) | _snowed_in_days(f, low)
    return (low & cold).astype(bool)


def _snowed_in_days(f: pd.DataFrame, low: pd.Series) -> pd.Series:
    """Without a module sensor: every daylight bucket of a day whose *whole* daylight (≥ 4 h with
    data) is below :data:`SNOW_RATIO` of the model while the air stays ≤ :data:`SNOW_DAY_AMBIENT_C`
    (modules under snow all day; a trip of a few hours leaves the rest of the day producing, and a
    day-long trip in freezing air is the one case this cannot tell apart). A day is one run of
    daylight buckets (no time zone needed)."""
    daylight = f["daylight"].astype(bool)
    day_id = (daylight & ~daylight.shift(fill_value=False)).cumsum()
    seen = daylight & (f["sample_count"] > 0)
    frame = pd.DataFrame({"day": day_id[seen], "low": low[seen], "air": f["ambient_ref_c"][seen]})
    days = frame.groupby("day").agg(n=("low", "size"), low=("low", "all"), air=("air", "max"))
    snowed = days.index[(days["n"] * BUCKET_H >= SNOW_DAY_MIN_H) & days["low"] & (days["air"] <= SNOW_DAY_AMBIENT_C)]
    return daylight & day_id.isin(snowed)
