"""Exogenous weather-forecast input (numerical weather prediction) behind a provider interface.

Models work without a provider. With one, the ``gbm`` model gets the forecast clear-sky index of
global horizontal irradiance (forecast GHI / clear-sky GHI) of each target interval as a feature,
taken from the newest forecast run issued at or before the issue time (available-at semantics).

:class:`FileWeatherProvider` reads a CSV with columns ``issued_at, target_ts, ghi_w_m2`` and
optionally ``temp_air_c`` (timestamps with offsets or UTC). A service-backed provider (an NWP
API) only has to implement :meth:`WeatherProvider.forecast`.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from heliosgrid.forecast.solar import SolarContext


class WeatherProvider(abc.ABC):
    """Source of weather forecasts for a site."""

    @abc.abstractmethod
    def forecast(self, issue_time: pd.Timestamp, targets: pd.DatetimeIndex) -> pd.DataFrame:
        """Columns ``ghi_w_m2`` (and ``temp_air_c`` if known) for ``targets`` (index), from the newest
        run issued at or before ``issue_time``; NaN where no run covers a target."""

    def forecast_csi(self, ctx: SolarContext, issue_time: pd.Timestamp, targets: pd.DatetimeIndex) -> np.ndarray:
        """Forecast GHI clear-sky index (dimensionless, NaN where unknown or at night)."""
        fc = self.forecast(issue_time, targets)
        cs = ctx.table(targets)["ghi_clear_w_m2"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            kt = np.where(cs > 20.0, fc["ghi_w_m2"].to_numpy(dtype=float) / cs, np.nan)
        return np.clip(kt, 0.0, 1.6)


class FileWeatherProvider(WeatherProvider):
    """Weather forecasts from a CSV file (``issued_at, target_ts, ghi_w_m2[, temp_air_c]``)."""

    def __init__(self, path: Path | str) -> None:
        from heliosgrid.forecast.solar import ForecastInputError

        self.path = Path(path)
        try:
            raw = pd.read_csv(self.path)
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ForecastInputError(f"cannot read weather forecast file {self.path}: {exc}") from None
        missing = {"issued_at", "target_ts", "ghi_w_m2"} - set(raw.columns)
        if missing:
            raise ForecastInputError(f"weather forecast file {self.path} lacks column(s): {', '.join(sorted(missing))}")
        try:
            raw["issued_at"] = pd.to_datetime(raw["issued_at"], utc=True)
            raw["target_ts"] = pd.to_datetime(raw["target_ts"], utc=True)
        except (ValueError, TypeError) as exc:
            raise ForecastInputError(f"weather forecast file {self.path}: unparsable timestamps ({exc})") from None
        cols = ["issued_at", "target_ts", "ghi_w_m2"] + (["temp_air_c"] if "temp_air_c" in raw.columns else [])
        self._frame = raw[cols].sort_values(["issued_at", "target_ts"]).reset_index(drop=True)
        self._runs = pd.DatetimeIndex(self._frame["issued_at"].unique()).sort_values()

    def forecast(self, issue_time: pd.Timestamp, targets: pd.DatetimeIndex) -> pd.DataFrame:
        out = pd.DataFrame(index=targets, columns=["ghi_w_m2", "temp_air_c"], dtype=float)
        usable = self._runs[self._runs <= issue_time]
        if usable.size == 0:
            return out
        run = self._frame[self._frame["issued_at"] == usable[-1]]
        run = run.drop_duplicates("target_ts", keep="last").set_index("target_ts")
        hourly = run.reindex(run.index.union(targets)).sort_index()
        # NWP is often hourly: interpolate in time onto the 15-min targets, never extrapolate.
        hourly = hourly[["ghi_w_m2"] + (["temp_air_c"] if "temp_air_c" in run.columns else [])]
        hourly = hourly.astype(float).interpolate(method="time", limit_area="inside")
        for col in hourly.columns:
            out[col] = hourly[col].reindex(targets).to_numpy()
        return out
