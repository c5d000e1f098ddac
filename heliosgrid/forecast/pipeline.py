"""Training and forecasting pipeline over the database (called by the Airflow DAGs and the CLI).

* :func:`retrain_site` — read a site's 15-min history (``readings_15m``), backtest every candidate
  model with rolling origins, refit them on the whole window, store each as a ``models`` row with
  its artefact, and promote the best one to champion only if it beats the current champion.
* :func:`run_forecasts` — issue P10/P50/P90 forecasts of every site's champion into ``forecasts``.
* :func:`check_drift` — rolling skill of the stored champion forecasts against smart persistence;
  a ``forecast_drift`` alert when it falls below ``Settings.forecast_drift_skill_threshold``.

Each is idempotent for the same ``as_of`` / ``issued_at``: model versions are named after the
site, model and ``as_of``; forecasts are upserted on their primary key; alerts are raised through
:func:`heliosgrid.alerts.raise_alert` (one active alert per site and fault type).

History semantics: the 15-min bucket labelled ``b`` is used at time ``t`` only if ``b < t`` (the
bucket is complete). A bucket where not every inverter of the site reported counts as missing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg.rows import dict_row

from heliosgrid.forecast.backtest import BacktestResult
from heliosgrid.forecast.ensemble import EnsembleForecaster
from heliosgrid.forecast.features import DEFAULT_HORIZON_STEPS, HISTORY_LOOKBACK_DAYS, persistence_csi
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.hygiene import clean_power_series
from heliosgrid.forecast.metrics import DAY_AHEAD_BUCKET, HORIZON_BUCKETS, point_column
from heliosgrid.forecast.online import update_band_online
from heliosgrid.forecast.open_meteo import provider_from_settings
from heliosgrid.forecast.registry import (
    champions,
    current_champion,
    load_artifact,
    metrics_json,
    model_version,
    promote,
    register_model,
    save_artifact,
    should_promote,
)
from heliosgrid.forecast.solar import STEP, ForecastInputError, SolarContext, regular_grid
from heliosgrid.forecast.training import RETRAIN_ORIGIN_STEP_H, TrainedSite, data_hash, train_site_models
from heliosgrid.forecast.weather import WeatherProvider
from heliosgrid.physics.fleet import DeviceSpec, SiteSpec
from heliosgrid.settings import Settings

log = logging.getLogger(__name__)

#: Re-exported for the DAG tasks and the CLI (their home is :mod:`heliosgrid.forecast.registry`).
__all__ = ["RetrainResult", "check_drift", "current_champion", "data_hash", "load_artifact", "load_site",
           "read_history", "retrain_site", "run_forecasts", "save_artifact", "should_promote"]
DRIFT_MIN_SAMPLES = 48


@dataclass
class RetrainResult:
    """What a retrain did: candidates registered, which won the backtest, whether it was promoted."""

    site_id: str
    as_of: datetime
    train_start: datetime
    train_end: datetime
    data_hash: str
    candidates: list[dict[str, Any]] = field(default_factory=list)
    hygiene: dict[str, Any] = field(default_factory=dict)
    champion_by_bucket: dict[str, str] = field(default_factory=dict)
    best_version: str | None = None
    champion_version: str | None = None
    promoted: bool = False
    reason: str = ""
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ISO timestamps, NaN scores as None."""
        def clean(v: Any) -> Any:
            if isinstance(v, float) and math.isnan(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v
        out = clean(dict(self.__dict__))
        for k in ("as_of", "train_start", "train_end"):
            out[k] = out[k].isoformat()
        return dict(out)


def floor_15min(ts: datetime | pd.Timestamp | str) -> pd.Timestamp:
    """UTC timestamp floored to the 15-min grid (naive input is rejected)."""
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        raise ForecastInputError(f"timestamp {t.isoformat()} must be timezone-aware")
    return t.tz_convert("UTC").floor(STEP)


# --- reading ---------------------------------------------------------------------------------
def load_site(conn: psycopg.Connection, site_id: str) -> tuple[SiteSpec, float]:
    """The site and its inverters from ``sites``/``devices``, and its AC capacity (kW)."""
    with conn.cursor(row_factory=dict_row) as cur:
        site = cur.execute("SELECT * FROM sites WHERE site_id = %s", (site_id,)).fetchone()
        if site is None:
            raise ForecastInputError(f"unknown site {site_id!r}")
        devices = cur.execute(
            "SELECT * FROM devices WHERE site_id = %s AND kind = 'inverter' ORDER BY device_id", (site_id,)
        ).fetchall()
    specs = tuple(
        DeviceSpec(
            device_id=d["device_id"], site_id=site_id, kind="inverter",
            surface_tilt_deg=float(d["surface_tilt_deg"]), surface_azimuth_deg=float(d["surface_azimuth_deg"]),
            dc_capacity_kw=float(d["dc_capacity_kw"]), ac_capacity_kw=float(d["ac_capacity_kw"]),
            gamma_pdc_per_c=float(d["gamma_pdc_per_c"]), inverter_efficiency=float(d["inverter_efficiency"]),
            tracking=d["tracking"], max_angle_deg=float(d["tracker_max_angle_deg"]), gcr=float(d["tracker_gcr"]),
        )
        for d in devices
    )
    spec = SiteSpec(site_id, site["name"], float(site["latitude_deg"]), float(site["longitude_deg"]),
                    float(site["altitude_m"]), site["timezone"], specs)
    capacity = spec.ac_capacity_kw or float(site["ac_capacity_kw"])
    if not specs or capacity <= 0:
        raise ForecastInputError(f"site {site_id!r} has no inverters with AC capacity > 0")
    return spec, capacity


def read_history(conn: psycopg.Connection, site_id: str, start: pd.Timestamp, end: pd.Timestamp,
                 n_inverters: int) -> pd.Series:
    """Site AC power (kW) per 15-min bucket in ``[start, end)`` from ``readings_15m``.

    Buckets where fewer than ``n_inverters`` inverters reported are NaN (not under-counted sums).
    """
    rows = conn.execute(
        """SELECT r.bucket, sum(r.ac_power_kw_avg), count(r.ac_power_kw_avg)
           FROM readings_15m r JOIN devices d ON d.device_id = r.device_id AND d.kind = 'inverter'
           WHERE r.site_id = %s AND r.bucket >= %s AND r.bucket < %s
           GROUP BY r.bucket ORDER BY r.bucket""",
        (site_id, start.to_pydatetime(), end.to_pydatetime()),
    ).fetchall()
    if not rows:
        return pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float, name="ac_power_kw")
    idx = pd.DatetimeIndex([r[0] for r in rows]).tz_convert("UTC")
    values = [float(r[1]) if r[1] is not None and r[2] >= n_inverters else math.nan for r in rows]
    return pd.Series(values, index=idx, name="ac_power_kw")


def retrain_site(conn: psycopg.Connection, site_id: str, settings: Settings, as_of: datetime | pd.Timestamp) -> RetrainResult:
    """Backtest, refit, register every candidate model of ``site_id`` on data before ``as_of``, and
    promote the backtest winner if it beats the current champion.

    Storage shell around the pure :func:`heliosgrid.forecast.training.train_site_models`: reads the
    history, writes the artefacts, then the registry rows and the promotion in one
    ``conn.transaction()`` block (a savepoint inside a caller's open transaction, which it never
    commits; a transaction of its own on an autocommit connection)."""
    t0 = time.perf_counter()
    as_of_ts = floor_15min(as_of)
    site, capacity = load_site(conn, site_id)
    start = as_of_ts - pd.Timedelta(days=settings.forecast_train_days)
    history = read_history(conn, site_id, start, as_of_ts, len(site.inverters))
    models = [m.strip() for m in settings.forecast_models.split(",") if m.strip()]
    weather = provider_from_settings(settings, site.latitude_deg, site.longitude_deg)
    trained = train_site_models(history, site, capacity, models=models, backtest_days=settings.forecast_backtest_days,
                                weather=weather)
    bt = trained.backtest
    result = RetrainResult(site_id, as_of_ts.to_pydatetime(), trained.train_start.to_pydatetime(),
                           trained.train_end.to_pydatetime(), trained.data_hash,
                           hygiene=trained.hygiene.as_dict() if trained.hygiene else {},
                           champion_by_bucket=dict(bt.champion_by_bucket))
    paths = {}
    for name, fc in trained.forecasters.items():
        paths[name] = settings.models_path / site_id / f"{model_version(site_id, name, as_of_ts)}.pkl"
        save_artifact(fc, paths[name])
    with conn.transaction():
        versions = _register_candidates(conn, trained, result, paths, as_of_ts)
        _maybe_promote(conn, site_id, bt, versions, result)
    result.duration_s = time.perf_counter() - t0
    log.info("retrain %s: best %s, champion %s (%s) in %.1fs", site_id, result.best_version, result.champion_version,
             result.reason, result.duration_s)
    return result


def _register_candidates(conn: psycopg.Connection, trained: TrainedSite, result: RetrainResult,
                         paths: dict[str, Path], as_of: pd.Timestamp) -> dict[str, str]:
    bt = trained.backtest
    versions: dict[str, str] = {}
    for name, fc in trained.forecasters.items():
        version = model_version(trained.site_id, name, as_of)
        params = {**fc.describe(), "backtest": {"test_start": bt.test_start.isoformat(), "test_end": bt.test_end.isoformat(),
                                                "n_origins": bt.n_origins, "origin_step_h": RETRAIN_ORIGIN_STEP_H}}
        register_model(conn, version=version, site_id=trained.site_id, model_name=name, params=params,
                       train_start=result.train_start, train_end=result.train_end, data_hash=trained.data_hash,
                       metrics=bt.metrics[name], artifact_path=paths[name])
        versions[name] = version
        result.candidates.append({"model_version": version, "model_name": name,
                                  "day_ahead_nrmse": bt.metrics[name].get(DAY_AHEAD_BUCKET, {}).get("nrmse"),
                                  "skill": {b: bt.metrics[name][b].get("skill") for b in HORIZON_BUCKETS}})
    return versions


def _maybe_promote(conn: psycopg.Connection, site_id: str, bt: BacktestResult, versions: dict[str, str],
                   result: RetrainResult) -> None:
    best = bt.champion
    result.best_version = versions.get(best) if best else None
    champ = current_champion(conn, site_id)
    if result.best_version is None:
        result.reason = "no candidate could be scored"
    elif champ is not None and champ["model_version"] == result.best_version:
        result.reason = "backtest winner is already the champion"
    else:
        ok, reason = should_promote(metrics_json(bt.metrics[best]) if best else None, champ["metrics"] if champ else None)
        result.reason = reason
        if ok:
            promote(conn, site_id, result.best_version)
            result.promoted = True
    champ = current_champion(conn, site_id)
    result.champion_version = champ["model_version"] if champ else None


# --- forecasting -----------------------------------------------------------------------------
def forecast_site(conn: psycopg.Connection, champion: dict[str, Any], settings: Settings,
                  issued_at: pd.Timestamp) -> pd.DataFrame:
    """Forecast frame of one site's champion issued at ``issued_at`` (history strictly before it), its band
    updated online from the champion's matured forecasts (:mod:`heliosgrid.forecast.online`)."""
    fc = load_artifact(champion["artifact_path"])
    site_id = champion["site_id"]
    site, capacity = load_site(conn, site_id)
    attach_weather(fc, provider_from_settings(settings, site.latitude_deg, site.longitude_deg))
    history = read_history(conn, site_id, issued_at - pd.Timedelta(days=HISTORY_LOOKBACK_DAYS), issued_at,
                           len(site.inverters))
    if not history.dropna().empty:
        history, report = clean_power_series(history, site, capacity)
        for warning in report.warnings:
            log.warning("site %s: %s", site_id, warning)
    steps = min(settings.forecast_horizon_h * 4, DEFAULT_HORIZON_STEPS)
    frame = fc.predict_quantiles(history, issued_at, steps)
    if history.dropna().empty:
        return frame
    return update_band_online(conn, frame, champion, history, fc.ctx, issued_at, getattr(fc, "band_centre", None))[0]


def attach_weather(fc: Forecaster | EnsembleForecaster, weather: WeatherProvider | None) -> None:
    """Give the weather provider to every (member) forecaster whose model uses weather forecasts."""
    members = fc.members.values() if isinstance(fc, EnsembleForecaster) else [fc]
    for member in members:
        member.weather = weather if member.model.uses_weather else None


def run_forecasts(conn: psycopg.Connection, settings: Settings, issued_at: datetime | pd.Timestamp,
                  site_ids: Collection[str] | None = None) -> int:
    """Write every site's (or ``site_ids``') champion forecast issued at ``issued_at`` (floored to 15 min);
    returns rows written. Re-running for the same issue time overwrites the same rows. Commits per site."""
    issue = floor_15min(issued_at)
    total = 0
    if settings.forecast_horizon_h * 4 > DEFAULT_HORIZON_STEPS:
        log.warning("forecast_horizon_h=%d exceeds the 48 h the models are trained for; forecasting 48 h",
                    settings.forecast_horizon_h)
    for champ in champions(conn, site_ids):
        try:
            frame = forecast_site(conn, champ, settings, issue)
        except ForecastInputError as exc:
            log.error("forecast for site %s skipped: %s", champ["site_id"], exc)
            continue
        total += _write_forecast(conn, champ, issue, frame)
        conn.commit()
    return total


WRITE_SQL = """INSERT INTO forecasts (site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw,
                       point_kw)
SELECT %s, %s, %s, u.target_ts, u.horizon_min, u.p10_kw, u.p50_kw, u.p90_kw, u.point_kw
FROM unnest(%s::timestamptz[], %s::integer[], %s::float8[], %s::float8[], %s::float8[], %s::float8[])
     AS u(target_ts, horizon_min, p10_kw, p50_kw, p90_kw, point_kw)
ON CONFLICT (site_id, model_version, issued_at, target_ts) DO UPDATE SET
    horizon_min = EXCLUDED.horizon_min, p10_kw = EXCLUDED.p10_kw, p50_kw = EXCLUDED.p50_kw,
    p90_kw = EXCLUDED.p90_kw, point_kw = EXCLUDED.point_kw, created_at = now()"""


def _write_forecast(conn: psycopg.Connection, champ: dict[str, Any], issue: pd.Timestamp, frame: pd.DataFrame) -> int:
    """Upsert one site's forecast (kW per 15-min target) in ONE statement: the forecasts trigger
    (migration 0170) then updates the latest-forecast and fleet-band rows once, not once per row.
    Returns the rows written."""
    params = (champ["site_id"], champ["model_version"], issue.to_pydatetime(),
              [ts.to_pydatetime() for ts in pd.DatetimeIndex(frame["target_ts"])],
              [int(h) for h in frame["horizon_min"]],
              [float(x) for x in frame["p10_kw"]], [float(x) for x in frame["p50_kw"]], [float(x) for x in frame["p90_kw"]],
              [float(x) for x in frame[point_column(frame)]])
    conn.execute(WRITE_SQL, params)
    return len(frame)


# --- drift -----------------------------------------------------------------------------------
def rolling_skill(conn: psycopg.Connection, champion: dict[str, Any], as_of: pd.Timestamp,
                  window_days: int) -> dict[str, Any]:
    """Skill (1 − RMSE/RMSE_persistence) of the champion's stored forecasts whose targets fall in
    ``[as_of − window, as_of)``, against smart persistence recomputed at the same issue times
    from the measured history (daylight targets with a measurement only)."""
    site_id = champion["site_id"]
    lo = as_of - pd.Timedelta(days=window_days)
    frame = pd.DataFrame(
        conn.execute(
            """SELECT issued_at, target_ts, coalesce(point_kw, p50_kw) FROM forecasts
               WHERE site_id = %s AND model_version = %s AND target_ts >= %s AND target_ts < %s AND issued_at < %s
               ORDER BY issued_at, target_ts""",
            (site_id, champion["model_version"], lo.to_pydatetime(), as_of.to_pydatetime(), as_of.to_pydatetime()),
        ).fetchall(),
        columns=["issued_at", "target_ts", "point_kw"],
    )
    out: dict[str, Any] = {"site_id": site_id, "model_version": champion["model_version"], "window_days": window_days,
                           "n": 0, "skill": None, "rmse_kw": None, "rmse_persistence_kw": None}
    if frame.empty:
        return out
    site, capacity = load_site(conn, site_id)
    first_issue = pd.Timestamp(frame["issued_at"].min()).tz_convert("UTC")
    history = read_history(conn, site_id, first_issue - pd.Timedelta(days=3), as_of, len(site.inverters))
    if history.dropna().empty:
        return out
    fc = load_artifact(champion["artifact_path"])
    ctx = SolarContext(site, capacity, fc.ctx.clearsky_scale)
    frame["issued_at"] = pd.DatetimeIndex(frame["issued_at"]).tz_convert("UTC")
    frame["target_ts"] = pd.DatetimeIndex(frame["target_ts"]).tz_convert("UTC")
    persist = np.empty(len(frame))
    for issue, idx in frame.groupby("issued_at").groups.items():
        avail = history[history.index < issue]
        k = ctx.csi(regular_grid(avail, issue)) if not avail.empty else pd.Series(dtype=float)
        k0 = persistence_csi(k.to_numpy(), len(k))
        targets = pd.DatetimeIndex(frame.loc[idx, "target_ts"])
        persist[frame.index.get_indexer(idx)] = ctx.to_power(np.full(len(targets), k0), targets)
    frame["persist_kw"] = persist
    targets = pd.DatetimeIndex(frame["target_ts"])
    frame["actual_kw"] = history.reindex(targets).to_numpy()
    frame["clearsky_kw"] = ctx.clearsky_kw(targets)
    scored = frame[(frame["clearsky_kw"] > 0) & frame["actual_kw"].notna()]
    out["n"] = len(scored)
    if len(scored) < DRIFT_MIN_SAMPLES:
        return out
    rmse = float(np.sqrt(np.mean((scored["point_kw"] - scored["actual_kw"]) ** 2)))
    rmse_p = float(np.sqrt(np.mean((scored["persist_kw"] - scored["actual_kw"]) ** 2)))
    out.update(rmse_kw=rmse, rmse_persistence_kw=rmse_p, skill=(1.0 - rmse / rmse_p) if rmse_p > 0 else None)
    return out


def check_drift(conn: psycopg.Connection, settings: Settings, as_of: datetime | pd.Timestamp,
                site_ids: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Raise (or refresh) a ``forecast_drift`` alert for every site (or ``site_ids``) whose champion's rolling skill
    is below ``settings.forecast_drift_skill_threshold``; auto-resolve the others. Returns the
    active drift alerts as dicts. Commits."""
    from heliosgrid.alerts import get_alert, raise_alert, resolve_absent

    now = floor_15min(as_of)
    active: list[dict[str, Any]] = []
    keys = set()
    checked: list[str] = []
    for champ in champions(conn, site_ids):
        try:
            stats = rolling_skill(conn, champ, now, settings.forecast_drift_window_days)
        except ForecastInputError as exc:
            log.error("drift check for site %s skipped: %s", champ["site_id"], exc)
            continue
        checked.append(champ["site_id"])
        skill = stats["skill"]
        if skill is None or skill >= settings.forecast_drift_skill_threshold:
            continue
        alert_id = raise_alert(
            conn, site_id=champ["site_id"], source="forecast", fault_type="forecast_drift", severity="warning",
            title=f"Forecast skill {skill:.2f} below {settings.forecast_drift_skill_threshold:.2f} "
                  f"over the last {settings.forecast_drift_window_days} days",
            started_at=now.to_pydatetime(), last_seen_at=now.to_pydatetime(),
            evidence={**stats, "threshold": settings.forecast_drift_skill_threshold},
            recommended_action="Retrain the site's models (heliosgrid forecast train) and check data quality.",
        )
        keys.add((champ["site_id"], "", "forecast_drift"))
        active.append(get_alert(conn, alert_id).as_dict())
    if checked:
        resolve_absent(conn, "forecast", ["forecast_drift"], keys, now.to_pydatetime(), site_ids=checked)
    conn.commit()
    return active
