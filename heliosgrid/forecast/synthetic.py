"""Synthetic site power with a known clear-sky-index pattern (tests, examples, docs).

``alternating``: clear days (CSI ≈ 1.0) and overcast days (CSI ≈ 0.35) alternate, so tomorrow is
the opposite of today. Smart persistence is wrong at every day-ahead lead, while a model that
looks at the same slot two days back is right: the answer is known.
``random``: each day's CSI is drawn uniformly from [0.2, 1.0] (no day-to-day memory).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heliosgrid.forecast.solar import STEP, SolarContext, site_from_capacity
from heliosgrid.physics.fleet import SiteSpec

DEFAULT_SITE: SiteSpec = site_from_capacity("synthetic", 37.1, -2.4, 100.0, altitude_m=500.0,
                                            surface_tilt_deg=30.0, surface_azimuth_deg=180.0)


def synthetic_power(days: int, *, start: str = "2024-05-01", pattern: str = "alternating", noise_csi: float = 0.03,
                    seed: int = 1, site: SiteSpec = DEFAULT_SITE, capacity_kw: float = 100.0) -> pd.Series:
    """Site AC power (kW, 15-min, UTC labels) = clear-sky power × daily CSI pattern × (1 + noise)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=days * 96, freq=STEP)
    ctx = SolarContext(site, capacity_kw)
    cs = ctx.clearsky_kw(idx)
    day = (idx - idx[0]).days.to_numpy()
    if pattern == "alternating":
        daily = np.where(day % 2 == 0, 1.0, 0.35)
    elif pattern == "random":
        daily = rng.uniform(0.2, 1.0, size=days)[day]
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    k = np.clip(daily + rng.normal(0.0, noise_csi, len(idx)), 0.0, 1.2)
    return pd.Series(np.clip(cs * k, 0.0, capacity_kw), index=idx, name="ac_power_kw")
