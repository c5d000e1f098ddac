"""Every detector threshold in one table: name, value, unit and why.

Detectors read a :class:`Thresholds` instance (``DEFAULT`` unless the engine passes a per-device
copy). Values are for 15-minute buckets; daylight = clear-sky and site POA > 150 W/m².

=============================  ========  ==========================================================
name                           default   why
=============================  ========  ==========================================================
trip_power_fraction            0.02      AC below 2 % of nameplate is "no output"
trip_off_fraction              0.005     a trip needs AC below 0.5 % of nameplate (an inverter that
                                         is off): 1–2 % is an array producing under fog, frost or
                                         clouds the irradiance reference missed (satellite POA)
trip_expected_fraction         0.10      the model must expect > 10 % of nameplate for a trip
trip_min_clearsky_poa_w_m2     300.0     a trip needs the sun up properly (clear-sky POA): at low
                                         sun, horizon and row shading zero a real array's output
                                         (low-light zero buckets still extend a found trip)
trip_edge_ratio                0.90      a partial bucket at either end of a trip (ratio < 0.9)
                                         belongs to the episode (the trip began mid-bucket)
loss_level                     0.95      string outage: the smoothed calibrated ratio is below it
step_min                       0.05      string outage: ≥ 5 points below the level 6–30 h earlier
                                         (soiling moves ≤ 1 point a day, never a 5-point step)
peer_confirm_ratio             0.96      string outage: peers (when present) also below this
string_min_poa_w_m2            0.0       string outage judged only above this irradiance: 250 is
                                         learned for devices scattering > 3 % (below it PVWatts'
                                         low-light and angular errors reach 30 % on real plants)
string_min_clearness           0.0       … and with irradiance ≥ this share of clear sky: 0.8 is
                                         learned for devices scattering > 3 % (under broken
                                         clouds sensor and array see different clouds: real
                                         ratio scatter 10–30 % per bucket)
string_window                  3         string outage: the level is the rolling median of this
                                         many usable buckets and the episode needs as many (learned:
                                         3 / 4 / 6 for a ratio scatter ≤ 3 % / ≤ 6 % / more)
soiling_loss                   0.02      soiling: daily loss ≥ 2 % for 2 days
soiling_min_slope_per_day      0.002     soiling: Theil–Sen loss slope > 0.2 %/day (gradual)
clear_day_envelope_fraction    0.80      a day is clear when its clear-sky power envelope is
                                         ≥ 80 % of the clear baseline (overcast ≈ 0.3–0.6)
drift_ratio                    0.03      drift: smoothed POA / reference off by > 3 %
drift_window                   48        drift: rolling median over 48 daylight buckets (≈ 1.5 d)
drift_min_buckets              8         drift: the deviation lasts ≥ 8 buckets
stale_min_samples              3         stuck: min == max over a bucket of ≥ 3 samples
stale_min_buckets              2         stuck: ≥ 2 stale buckets
stale_lit_poa_w_m2             100.0     stuck POA/GHI judged only while the clear-sky POA is above
                                         this (a dark-offset reading at dawn repeats legitimately)
stale_dark_w_m2                10.0      … and not while it sits at its dark offset (≤ this) with the
                                         inverter below trip_power_fraction too: sensor and array
                                         are covered together (snow, RSF II 2022-01-03), they agree
overheat_excess_c              8.0       overheating: module temperature > 8 °C above model and
                                         peers (SAPM residual scatter ≈ 2 °C)
overheat_min_poa_w_m2          100.0     overheating judged only above this POA
overheat_critical_c            20.0      overheating above this excess is critical
comm_gap_completeness          0.5       comm gap: bucket completeness below 50 %
comm_gap_partial               0.9       a bucket below 90 % next to a gap extends it
complete_fraction              0.85      a bucket is "complete" with ≥ 85 % of its nominal
                                         samples (13 of 15 at a 60-s interval)
degradation_rate_per_year      -0.01     degradation: Theil–Sen slope < −1 %/year, 95 % CI < 0
degradation_min_days           180       degradation: at least 180 days of daily values
=============================  ========  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, get_type_hints


@dataclass(frozen=True)
class Unit:
    """The unit of a threshold, carried in its type (``Annotated[float, Unit("W/m²")]``)."""

    symbol: str


@dataclass(frozen=True)
class Thresholds:
    """Detector thresholds (see the module table for units and reasons)."""

    trip_power_fraction: Annotated[float, Unit("of nameplate")] = 0.02
    trip_off_fraction: Annotated[float, Unit("of nameplate")] = 0.005
    trip_expected_fraction: Annotated[float, Unit("of nameplate")] = 0.10
    trip_min_clearsky_poa_w_m2: Annotated[float, Unit("W/m²")] = 300.0
    trip_edge_ratio: Annotated[float, Unit("ratio")] = 0.90
    loss_level: Annotated[float, Unit("ratio")] = 0.95
    step_min: Annotated[float, Unit("ratio")] = 0.05
    peer_confirm_ratio: Annotated[float, Unit("ratio")] = 0.96
    string_min_poa_w_m2: Annotated[float, Unit("W/m²")] = 0.0
    string_min_clearness: Annotated[float, Unit("of clear-sky POA")] = 0.0
    string_window: Annotated[int, Unit("buckets")] = 3
    soiling_loss: Annotated[float, Unit("fraction")] = 0.02
    soiling_min_slope_per_day: Annotated[float, Unit("1/day")] = 0.002
    clear_day_envelope_fraction: Annotated[float, Unit("fraction")] = 0.80
    drift_ratio: Annotated[float, Unit("fraction")] = 0.03
    drift_window: Annotated[int, Unit("buckets")] = 48
    drift_min_buckets: Annotated[int, Unit("buckets")] = 8
    stale_min_samples: Annotated[int, Unit("samples")] = 3
    stale_min_buckets: Annotated[int, Unit("buckets")] = 2
    stale_lit_poa_w_m2: Annotated[float, Unit("W/m²")] = 100.0
    stale_dark_w_m2: Annotated[float, Unit("W/m²")] = 10.0
    overheat_excess_c: Annotated[float, Unit("°C")] = 8.0
    overheat_min_poa_w_m2: Annotated[float, Unit("W/m²")] = 100.0
    overheat_critical_c: Annotated[float, Unit("°C")] = 20.0
    comm_gap_completeness: Annotated[float, Unit("of nominal samples")] = 0.5
    comm_gap_partial: Annotated[float, Unit("of nominal samples")] = 0.9
    complete_fraction: Annotated[float, Unit("of nominal samples")] = 0.85
    degradation_rate_per_year: Annotated[float, Unit("1/year")] = -0.01
    degradation_min_days: Annotated[int, Unit("days")] = 180

    @property
    def noisy_reference(self) -> bool:
        """The string test judges clear, bright buckets only: the device's irradiance reference was
        learned to be noisy (σ > 3 %, e.g. satellite GHI), or it is still in warm-up (ceilings)."""
        return self.string_min_clearness > 0 or self.string_min_poa_w_m2 > 0


DEFAULT = Thresholds()

DAYLIGHT_POA_W_M2 = 150.0
"""Buckets whose clear-sky POA and reference POA are both above this are 'daylight' for the
loss detectors: below it, inverter start-up and low-load efficiency dominate the ratios. A logger that
sleeps at night is expected to report above it (:func:`.status.expected_to_report`)."""


def units() -> dict[str, str]:
    """Threshold name → unit, read from the annotations of :class:`Thresholds`."""
    hints = get_type_hints(Thresholds, include_extras=True)
    return {f.name: next(m.symbol for m in hints[f.name].__metadata__ if isinstance(m, Unit)) for f in fields(Thresholds)}
