"""Which detectors can run for a device, and why not: "not evaluated: reason", never silence.

What each detector needs (15-minute buckets; the device's nominal interval is inferred from its
sample counts, :func:`heliosgrid.maintenance.frames.infer_interval_s`):

===================  =======================================================================
detector             needs
===================  =======================================================================
comm_gap             any reporting interval ≤ 15 min; monitoring start (first reading or
                     ``commissioned_at``)
inverter_trip        AC power and an irradiance (own POA sensor, or the site's reference; without any
                     irradiance at the site the clear sky, the site's recurring morning/evening shade
                     excepted)
string_outage        as trip, and clear buckets (≥ 250 W/m², ≥ 80 % of clear sky); "not evaluated"
                     when its CUSUM test's smallest detectable step (2.5 σ of the ratio against
                     the device's own baseline, ≥ 15 %) exceeds 35 % (ADR 0550); warm-up (no own history):
                     σ ≥ 8 % against the calibrated level; "not evaluated" with < 8 usable
                     buckets in the analysis window (a snowed-in or overcast week)
soiling              as string outage, ≥ 3 days with ≥ 6 usable buckets
stuck_sensor         the sensor's readings (min == max needs ≥ 3 samples per bucket, i.e. an
                     interval ≤ 5 min; at 15 min repeated bucket means are used)
irradiance_drift     an own POA sensor and a second irradiance reference at the site (another
                     POA sensor, a weather station or ≥ 3 inverters); without one, the clear
                     sky on clear days after a warm-up of 3 clear days (clearsky_drift.py)
overheating          module and ambient temperature, irradiance
snow_loss (info)     irradiance; module temperature (else ambient temperature); without either
                     "not evaluated" (a snowed-in day then reads as a trip)
degradation (info)   ≥ 180 days of history in the analysis window
===================  =======================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.maintenance.detectors.base import clear_sky_reference
from heliosgrid.maintenance.detectors.string_outage import StringTest
from heliosgrid.maintenance.frames import MAX_INTERVAL_S
from heliosgrid.maintenance.learning import NOISY_SIGMA, Learned

NO_TEMPERATURE_SNOW_REASON = (
    "no module or ambient temperature: snow on the modules cannot be told from an outage "
    "(a day without output under sun is reported as inverter_trip)"
)
"""Measured: SERF west without its temperature columns turns its snowed-in 2022-01-06 into a trip."""
IRRADIANCE_DETECTORS = ("inverter_trip", "string_outage", "soiling", "overheating", "snow_loss")


CLEAR_SKY_ONLY_REASON = (
    "no irradiance measured at the site: against the clear sky (the reference a power-only plant has) clouds move "
    "the model ratio more than a lost string or soiling would (inverter_trip, snow_loss, comm_gap and the "
    "long-window soiling trend still judge; add a POA sensor, a GHI feed or peers)"
)


def has_values(f: pd.DataFrame, col: str) -> bool:
    """The frame has column ``col`` with at least one value."""
    return col in f and bool(f[col].notna().any())


def _interval_reasons(f: pd.DataFrame) -> dict[str, str] | None:
    """Everything except comm_gap when the interval is unknown or coarser than a bucket."""
    interval_s = float(f["interval_s"].iloc[0]) if "interval_s" in f and len(f) else float("nan")
    if not np.isfinite(interval_s):
        return {"all": "no readings in the analysis window"}
    if interval_s > MAX_INTERVAL_S:
        reason = f"reporting interval {interval_s:.0f} s is coarser than the 15-minute buckets"
        return dict.fromkeys((*IRRADIANCE_DETECTORS, "stuck_sensor", "irradiance_drift", "degradation"), reason)
    return None


def not_evaluated_reasons(
    f: pd.DataFrame, learned: Learned, history_days: float | None = None, strings: StringTest | None = None
) -> dict[str, str]:
    """detector → reason for the detectors that could not judge this inverter's frame ``f``.

    During warm-up the loss detectors run with the ceiling thresholds
    (:data:`heliosgrid.maintenance.learning.CEILING`); a device too noisy to judge steps or
    soiling (``learned.too_noisy``) gets a reason for both.
    """
    coarse = _interval_reasons(f)
    if coarse is not None:
        return coarse
    out: dict[str, str] = {}
    if strings is not None and strings.reason is not None:
        out["string_outage"] = strings.reason
    if learned.too_noisy:
        out["soiling"] = (
            f"the model ratio scatters by {learned.sigma:.0%} on clear buckets (> {NOISY_SIGMA:.0%}): a soiling trend "
            "cannot be told from the irradiance reference's noise (add a POA sensor or peers)"
        )
    elif learned.too_noisy_daily:
        out["soiling"] = (
            f"daily model ratios scatter by {learned.sigma_day:.1%}: a soiling threshold above 6 % would be needed "
            "(add a POA sensor or peers)"
        )
    if clear_sky_reference(f):
        out.update(dict.fromkeys(("string_outage", "soiling", "overheating"), CLEAR_SKY_ONLY_REASON))
    elif not (has_values(f, "poa_w_m2_avg") or has_values(f, "poa_ref_w_m2") or has_values(f, "ref_poa_w_m2")):
        out.update(dict.fromkeys(IRRADIANCE_DETECTORS, "no plane-of-array irradiance (own sensor or site reference)"))
    if not has_values(f, "poa_w_m2_avg"):
        out["irradiance_drift"] = "no POA sensor on the device"
    elif not has_values(f, "poa_ref_w_m2"):
        # No second sensor: the clear sky on clear days is the reference, after its warm-up.
        from heliosgrid.maintenance.detectors.clearsky_drift import warmup_reason

        why = warmup_reason(f)
        if why is not None:
            out["irradiance_drift"] = why
    if not has_values(f, "module_temp_c_avg"):
        out.setdefault("overheating", "no module temperature sensor")
        if not bool(f.get("ambient_ref_measured", pd.Series([True])).any()):
            out.setdefault("snow_loss", NO_TEMPERATURE_SNOW_REASON)
    days = history_days if history_days is not None else (f.index[-1] - f.index[0]).total_seconds() / 86400.0 if len(f) else 0.0
    if days < 180:
        out["degradation"] = f"needs ≥ 180 days of history, the analysis window has {days:.0f} days"
    return out
