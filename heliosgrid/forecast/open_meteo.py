"""Open-Meteo numerical weather prediction behind :class:`~heliosgrid.forecast.weather.WeatherProvider`.

Hourly ``shortwave_radiation`` (GHI, W/m², mean of the *preceding* hour), ``cloud_cover`` (%) and
``temperature_2m`` (°C) for the site, in UTC (``timezone=GMT``), from two endpoints:

* **forecast** (``Settings.weather_open_meteo_url``) for live issue times (within ``live_window`` of
  now): the current run, cached under its issue hour. ``forecast(issue_time, …)`` uses the newest
  cached run whose issue hour is at or before the issue time, fetching one for the issue hour when
  there is none.
* **historical forecast** (``Settings.weather_open_meteo_historical_url``) for past issue times
  (backtests, training): fetched per calendar month and cached. Caveat: Open-Meteo assembles this
  archive from the first hours of consecutive model runs, so for leads beyond a few hours it is
  better than the forecast that was available at the issue time; backtest skill with it is an upper
  bound, labelled as such.

Requests have a timeout and retries with exponential back-off (HTTP 5xx, timeouts, connection errors;
a 4xx is not retried). When the service cannot be reached, :meth:`forecast` logs a warning and returns
missing values: the models then forecast from history only; nothing fails.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heliosgrid.forecast.weather import WeatherProvider

log = logging.getLogger(__name__)

HOURLY_VARIABLES = ("shortwave_radiation", "cloud_cover", "temperature_2m")
COLUMNS = {"shortwave_radiation": "ghi_w_m2", "cloud_cover": "cloud_cover_pct", "temperature_2m": "temp_air_c"}
FORECAST_DAYS = 3
#: An issue time this close to now (or later) is live: the forecast endpoint serves it.
LIVE_WINDOW = pd.Timedelta(hours=3)
#: A cached live run older than this before the issue time is not used.
MAX_RUN_AGE = pd.Timedelta(hours=48)


class WeatherUnavailable(RuntimeError):
    """The NWP service could not be reached or answered with an error (message says which)."""


class OpenMeteoProvider(WeatherProvider):
    """Open-Meteo forecasts for one site (see the module docstring)."""

    def __init__(self, latitude_deg: float, longitude_deg: float, *, cache_dir: Path,
                 forecast_url: str = "https://api.open-meteo.com/v1/forecast",
                 historical_url: str = "https://historical-forecast-api.open-meteo.com/v1/forecast",
                 timeout_s: float = 10.0, retries: int = 2, backoff_s: float = 0.5,
                 now: Callable[[], pd.Timestamp] | None = None) -> None:
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg
        self.cache_dir = Path(cache_dir) / f"{latitude_deg:.4f}_{longitude_deg:.4f}"
        self.forecast_url = forecast_url
        self.historical_url = historical_url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self._memory: dict[str, pd.DataFrame] = {}
        self.requests = 0
        self.failures = 0
        self._warned = False
        self._last_payload: dict[str, Any] = {}

    # --- public ----------------------------------------------------------------------------
    def forecast(self, issue_time: pd.Timestamp, targets: pd.DatetimeIndex) -> pd.DataFrame:
        """GHI, temperature and cloud cover for ``targets`` (15-min interval starts, UTC) from the
        newest run at or before ``issue_time``; NaN where unknown or the service is unreachable."""
        out = pd.DataFrame(np.nan, index=targets, columns=["ghi_w_m2", "temp_air_c", "cloud_cover_pct"])
        issue = pd.Timestamp(issue_time).tz_convert("UTC")
        try:
            hourly = self._live_run(issue) if issue >= self._now() - LIVE_WINDOW else self._archive(issue, targets)
        except WeatherUnavailable as exc:
            self.failures += 1
            if not self._warned:
                log.warning("weather forecast unavailable (%s); forecasting from history only", exc)
                self._warned = True
            return out
        if hourly is None or hourly.empty:
            return out
        return _to_targets(hourly, targets, out)

    # --- runs ------------------------------------------------------------------------------
    def _live_run(self, issue: pd.Timestamp) -> pd.DataFrame | None:
        hour = issue.floor("h")
        cached = self._newest_cached_run(hour)
        if cached is not None and cached[0] == hour:
            return cached[1]
        params = {"forecast_days": FORECAST_DAYS}
        try:
            frame = self._fetch(self.forecast_url, params)
        except WeatherUnavailable:
            if cached is not None:  # an older run is better than none
                log.info("using the cached NWP run of %s for issue time %s", cached[0].isoformat(), issue.isoformat())
                return cached[1]
            raise
        self._store(f"run_{hour:%Y%m%dT%H}", frame)
        return frame

    def _archive(self, issue: pd.Timestamp, targets: pd.DatetimeIndex) -> pd.DataFrame:
        months = pd.period_range(targets.min().tz_convert("UTC").tz_localize(None).to_period("M"),
                                 targets.max().tz_convert("UTC").tz_localize(None).to_period("M"), freq="M")
        parts = []
        for month in months:
            key = f"archive_{month.strftime('%Y%m')}"
            frame = self._load(key)
            if frame is None:
                start, end = month.start_time.date(), month.end_time.date()
                frame = self._fetch(self.historical_url, {"start_date": start.isoformat(), "end_date": end.isoformat()})
                self._store(key, frame)
            parts.append(frame)
        return pd.concat(parts).sort_index()

    # --- cache -----------------------------------------------------------------------------
    def _newest_cached_run(self, hour: pd.Timestamp) -> tuple[pd.Timestamp, pd.DataFrame] | None:
        if not self.cache_dir.is_dir():
            return None
        best: pd.Timestamp | None = None
        for path in self.cache_dir.glob("run_*.json"):
            run = pd.Timestamp(path.stem.removeprefix("run_") + ":00", tz="UTC")
            if run <= hour and hour - run <= MAX_RUN_AGE and (best is None or run > best):
                best = run
        if best is None:
            return None
        frame = self._load(f"run_{best:%Y%m%dT%H}")
        return (best, frame) if frame is not None else None

    def _load(self, key: str) -> pd.DataFrame | None:
        if key in self._memory:
            return self._memory[key]
        path = self.cache_dir / f"{key}.json"
        if not path.is_file():
            return None
        try:
            frame = parse_response(json.loads(path.read_text()))
        except (ValueError, KeyError) as exc:
            log.warning("ignoring damaged NWP cache file %s: %s", path, exc)
            return None
        self._memory[key] = frame
        return frame

    def _store(self, key: str, frame: pd.DataFrame) -> None:
        self._memory[key] = frame
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f".{key}.tmp"
        tmp.write_text(json.dumps(self._last_payload))
        tmp.replace(self.cache_dir / f"{key}.json")

    # --- HTTP ------------------------------------------------------------------------------
    def _fetch(self, url: str, extra: dict[str, Any]) -> pd.DataFrame:
        params = {"latitude": f"{self.latitude_deg:.4f}", "longitude": f"{self.longitude_deg:.4f}",
                  "hourly": ",".join(HOURLY_VARIABLES), "timezone": "GMT", **extra}
        full = f"{url}?{urllib.parse.urlencode(params)}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            self.requests += 1
            try:
                with urllib.request.urlopen(full, timeout=self.timeout_s) as resp:
                    payload = json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} from {url}: {_reason(exc)}"
                if exc.code < 500:
                    raise WeatherUnavailable(last) from None
                continue
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
                last = f"{type(exc).__name__} from {url}: {getattr(exc, 'reason', exc)}"
                continue
            self._last_payload = payload
            try:
                return parse_response(payload)
            except (KeyError, ValueError) as exc:
                raise WeatherUnavailable(f"unexpected response from {url}: {exc}") from None
        raise WeatherUnavailable(f"{last} (after {self.retries + 1} attempts)")


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read().decode("utf-8")).get("reason", exc.reason))
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)


def parse_response(payload: dict[str, Any]) -> pd.DataFrame:
    """Hourly frame (UTC index = end of each hour's averaging interval) from an Open-Meteo JSON body."""
    if payload.get("error"):
        raise ValueError(str(payload.get("reason", "error response")))
    if payload.get("utc_offset_seconds", 0) != 0:
        raise ValueError("expected timezone=GMT (utc_offset_seconds 0)")
    hourly = payload["hourly"]
    index = pd.DatetimeIndex(pd.to_datetime(hourly["time"], format="%Y-%m-%dT%H:%M")).tz_localize("UTC")
    cols = {COLUMNS[v]: pd.to_numeric(pd.Series(hourly[v]), errors="coerce").to_numpy(dtype=float)
            for v in HOURLY_VARIABLES if v in hourly}
    return pd.DataFrame(cols, index=index).sort_index()


def _to_targets(hourly: pd.DataFrame, targets: pd.DatetimeIndex, out: pd.DataFrame) -> pd.DataFrame:
    """Interpolate hourly values onto the 15-min targets' midpoints, never extrapolating. GHI is the mean
    of the preceding hour, so it is placed at the middle of that hour; the instantaneous variables stay."""
    mids = pd.DatetimeIndex(targets + pd.Timedelta(minutes=7.5))
    for col in out.columns:
        if col not in hourly.columns:
            continue
        src = hourly[col].dropna()
        if col == "ghi_w_m2":
            src.index = src.index - pd.Timedelta(minutes=30)
        if src.empty:
            continue
        x = src.index.asi8.astype(float)
        vals = np.interp(mids.asi8.astype(float), x, src.to_numpy(), left=np.nan, right=np.nan)
        out[col] = vals
    return out


def provider_from_settings(settings: Any, latitude_deg: float, longitude_deg: float) -> WeatherProvider | None:
    """The provider selected by ``Settings.weather_provider`` (None for ``none``)."""
    if settings.weather_provider != "open-meteo":
        return None
    return OpenMeteoProvider(latitude_deg, longitude_deg, cache_dir=settings.weather_cache_path,
                             forecast_url=settings.weather_open_meteo_url,
                             historical_url=settings.weather_open_meteo_historical_url,
                             timeout_s=settings.weather_timeout_s, retries=settings.weather_retries)
