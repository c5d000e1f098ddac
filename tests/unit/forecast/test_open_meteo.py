"""OpenMeteoProvider against a local HTTP server that answers in Open-Meteo's JSON format."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.models import make_model
from heliosgrid.forecast.open_meteo import OpenMeteoProvider, parse_response, provider_from_settings
from heliosgrid.forecast.solar import SolarContext
from heliosgrid.forecast.synthetic import DEFAULT_SITE, synthetic_power
from heliosgrid.settings import load_settings


def body(start: str, hours: int, ghi: float) -> dict[str, Any]:
    """A response shaped like api.open-meteo.com/v1/forecast?...&hourly=...&timezone=GMT."""
    times = pd.date_range(start, periods=hours, freq="h")
    return {"latitude": 37.1, "longitude": -2.4, "generationtime_ms": 0.31, "utc_offset_seconds": 0,
            "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 500.0,
            "hourly_units": {"time": "iso8601", "shortwave_radiation": "W/m²", "cloud_cover": "%",
                             "temperature_2m": "°C"},
            "hourly": {"time": [t.strftime("%Y-%m-%dT%H:%M") for t in times],
                       "shortwave_radiation": [ghi] * hours, "cloud_cover": [40] * hours,
                       "temperature_2m": [21.5] * hours}}


class Server:
    """Scripted answers: each request pops the next (status, body, delay_s); the last one repeats."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any], float]] = []
        self.requests: list[dict[str, list[str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append({"path": [urlparse(self.path).path], **parse_qs(urlparse(self.path).query)})
                status, payload, delay = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                time.sleep(delay)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()


NOW = pd.Timestamp("2024-05-10T06:10Z")


def provider(server: Server, tmp_path: Path, **kw: Any) -> OpenMeteoProvider:
    return OpenMeteoProvider(37.1, -2.4, cache_dir=tmp_path, forecast_url=f"{server.url}/v1/forecast",
                             historical_url=f"{server.url}/hist/v1/forecast", backoff_s=0.01,
                             now=lambda: NOW, **kw)


def test_parse_places_ghi_at_the_middle_of_its_hour(server: Server, tmp_path: Path) -> None:
    payload = body("2024-05-10T00:00", 72, 600.0)
    payload["hourly"]["shortwave_radiation"] = [float(i) * 10 for i in range(72)]
    server.script = [(200, payload, 0.0)]
    out = provider(server, tmp_path).forecast(pd.Timestamp("2024-05-10T06:00Z"),
                                              pd.date_range("2024-05-10T12:00Z", periods=4, freq="15min"))
    # the value at 13:00 (mean of 12–13 h) = 130 sits at 12:30, 120 at 11:30; target 12:00 → midpoint 12:07:30
    assert out["ghi_w_m2"].to_numpy() == pytest.approx([126.25, 128.75, 131.25, 133.75])
    assert (out["temp_air_c"] == 21.5).all() and (out["cloud_cover_pct"] == 40).all()
    assert parse_response(payload).index.tz is not None


def test_cache_is_keyed_by_issue_hour_and_uses_the_newest_run_at_or_before(server: Server, tmp_path: Path) -> None:
    server.script = [(200, body("2024-05-10T00:00", 72, 500.0), 0.0), (200, body("2024-05-10T00:00", 72, 100.0), 0.0)]
    p = provider(server, tmp_path)
    targets = pd.date_range("2024-05-10T13:00Z", periods=4, freq="15min")
    assert (p.forecast(pd.Timestamp("2024-05-10T06:00Z"), targets)["ghi_w_m2"] == 500.0).all()
    assert (p.forecast(pd.Timestamp("2024-05-10T06:45Z"), targets)["ghi_w_m2"] == 500.0).all()  # same hour: cache
    assert len(server.requests) == 1
    later = provider(server, tmp_path)  # a new process finds the run on disk
    assert (later.forecast(pd.Timestamp("2024-05-10T06:30Z"), targets)["ghi_w_m2"] == 500.0).all()
    assert len(server.requests) == 1
    assert server.requests[0]["hourly"] == ["shortwave_radiation,cloud_cover,temperature_2m"]
    assert server.requests[0]["timezone"] == ["GMT"]


def test_retries_then_succeeds(server: Server, tmp_path: Path) -> None:
    server.script = [(503, {"error": True, "reason": "busy"}, 0.0), (200, body("2024-05-10T00:00", 72, 300.0), 0.0)]
    out = provider(server, tmp_path, retries=2).forecast(NOW.floor("15min"), pd.date_range("2024-05-10T12:00Z", periods=2,
                                                                                             freq="15min"))
    assert (out["ghi_w_m2"] == 300.0).all() and len(server.requests) == 2


def test_timeout_and_no_network_degrade_to_missing_with_a_warning(server: Server, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    server.script = [(200, body("2024-05-10T00:00", 72, 300.0), 1.0)]
    p = provider(server, tmp_path, timeout_s=0.2, retries=1)
    targets = pd.date_range("2024-05-10T12:00Z", periods=2, freq="15min")
    with caplog.at_level(logging.WARNING):
        assert p.forecast(NOW.floor("15min"), targets)["ghi_w_m2"].isna().all()
    assert len(server.requests) == 2 and "history only" in caplog.text
    offline = OpenMeteoProvider(37.1, -2.4, cache_dir=tmp_path / "x", forecast_url="http://127.0.0.1:9/v1/forecast",
                                retries=0, now=lambda: NOW)
    assert offline.forecast(NOW.floor("15min"), targets)["ghi_w_m2"].isna().all() and offline.failures == 1


def test_client_error_is_not_retried(server: Server, tmp_path: Path) -> None:
    server.script = [(400, {"error": True, "reason": "Cannot initialize WeatherVariable from invalid String value"}, 0.0)]
    p = provider(server, tmp_path, retries=3)
    assert p.forecast(NOW.floor("15min"), pd.date_range("2024-05-10T12:00Z", periods=1, freq="15min"))["ghi_w_m2"].isna().all()
    assert len(server.requests) == 1


def test_past_issue_times_use_the_historical_endpoint_per_month(server: Server, tmp_path: Path) -> None:
    server.script = [(200, body("2024-03-01T00:00", 31 * 24, 250.0), 0.0)]
    p = provider(server, tmp_path)
    out = p.forecast(pd.Timestamp("2024-03-05T06:00Z"), pd.date_range("2024-03-06T12:00Z", periods=4, freq="15min"))
    assert (out["ghi_w_m2"] == 250.0).all()
    p.forecast(pd.Timestamp("2024-03-09T06:00Z"), pd.date_range("2024-03-10T12:00Z", periods=4, freq="15min"))
    assert len(server.requests) == 1
    assert server.requests[0]["path"] == ["/hist/v1/forecast"]
    assert server.requests[0]["start_date"] == ["2024-03-01"] and server.requests[0]["end_date"] == ["2024-03-31"]


def test_gbm_with_an_unreachable_provider_forecasts_from_history(tmp_path: Path) -> None:
    series = synthetic_power(12, pattern="random", seed=4)
    offline = OpenMeteoProvider(37.1, -2.4, cache_dir=tmp_path, forecast_url="http://127.0.0.1:9/f",
                                historical_url="http://127.0.0.1:9/h", retries=0)
    fc = Forecaster(make_model("gbm"), SolarContext(DEFAULT_SITE, 100.0), calibration_days=3, weather=offline)
    fc.fit(series[: 10 * 96])
    out = fc.predict_quantiles(series, pd.Timestamp("2024-05-11T06:00Z"), 96)
    assert np.isfinite(out["p50_kw"]).all() and out["p50_kw"].max() > 10.0


def test_selected_by_settings(tmp_path: Path) -> None:
    assert provider_from_settings(load_settings(), 1.0, 2.0) is None
    p = provider_from_settings(load_settings(weather_provider="open-meteo", data_dir=tmp_path), 1.0, 2.0)
    assert isinstance(p, OpenMeteoProvider) and p.cache_dir.parent == tmp_path / "weather"
