"""``heliosgrid forecast backtest|train|run|drift|models``.

``backtest`` needs no database: it evaluates the models on a CSV (``--csv`` with column names,
location and capacity) or on a real dataset shipped inside an installed wheel (``--dataset``).
The other actions work on the configured database (``HELIOS_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heliosgrid.units import OUTPUT_UNITS

if TYPE_CHECKING:  # pandas and the forecasting stack load only when a command runs
    import pandas as pd


def _utc(value: str) -> datetime:
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {value!r}") from None
    if ts.tzinfo is None:
        raise argparse.ArgumentTypeError(f"timestamp {value!r} needs a UTC offset (e.g. 2026-01-01T00:00Z)")
    return ts.tz_convert("UTC").to_pydatetime()


def _positive(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not v > 0 or math.isinf(v):
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return v


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fc = sub.add_parser("forecast", help="solar power forecasts: backtest, train, run, drift, models")
    fsub = fc.add_subparsers(dest="forecast_command", metavar="ACTION")
    fsub.required = True

    b = fsub.add_parser("backtest", help="rolling-origin backtest of the models on a CSV or a built-in dataset")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", type=Path, help="CSV with a timestamp column and a site AC power column (any interval up to hourly "
                     "means; coarser than 15 min is spread onto 15 min by the clear-sky shape)")
    src.add_argument("--dataset", help="built-in real dataset from an installed wheel: serf, pvdaq50, pvdaq50_winter, "
                                       "pvdaq50_spring_dst")
    src.add_argument("--corpus", action="store_true",
                     help="every real PV power series in the installed wheels (see heliosgrid.forecast.corpus)")
    b.add_argument("--timestamp-col", help="CSV timestamp column (ISO 8601; naive times are in --tz; '' for a first "
                   "column without a header). A file of exactly two columns needs neither this nor --power-col: "
                   "timestamp first, power second")
    b.add_argument("--power-col", help="CSV AC power column (kW unless --power-unit says otherwise)")
    b.add_argument("--power-unit", choices=OUTPUT_UNITS, default="kW",
                   help="unit of the AC column: mean power (W, kW, MW) or energy per interval (Wh, kWh, MWh; "
                        "the interval is the file's median step)")
    b.add_argument("--latitude", type=float, help="site latitude, degrees north")
    b.add_argument("--longitude", type=float, help="site longitude, degrees east")
    b.add_argument("--capacity-kw", type=float, help="plant AC capacity, kW (forecasts are clipped to it)")
    b.add_argument("--tz", default="UTC", help="IANA time zone of naive CSV timestamps (default UTC)")
    b.add_argument("--altitude", type=float, default=0.0, help="site altitude, m")
    b.add_argument("--tilt", type=float, help="array tilt, degrees (inferred from the data when omitted)")
    b.add_argument("--azimuth", type=float, help="array azimuth, degrees east of north (180 = south; inferred from the data "
                   "when both are omitted, facing the equator when only --tilt is given)")
    b.add_argument("--tracking", choices=("single-axis",), help="the array is a single-axis tracker (backtracking, "
                   "±60°); --tilt/--azimuth are then its axis's, default 0/180 (north-south). Without --tracking, "
                   "--tilt and --azimuth the data decide between a fixed array and a tracker")
    b.add_argument("--models", default="persistence,climatology,prophet,arima,gbm", help="comma-separated models")
    b.add_argument("--test-days", type=_positive, default=21.0, help="days at the end used for rolling origins")
    b.add_argument("--origin-step-h", type=_positive, default=6.0, help="hours between forecast issue times")
    b.add_argument("--weather-csv", type=Path, help="optional NWP file: issued_at,target_ts,ghi_w_m2[,temp_air_c]")
    b.add_argument("--plot", type=Path, help="write a PNG: series with the band, skill and coverage/sharpness per "
                                            "bucket (with --corpus: one PNG per series, NAME inserted before .png)")
    b.add_argument("--json", action="store_true", help="print the metrics as JSON")
    b.set_defaults(func=cmd_backtest)

    t = fsub.add_parser("train", help="retrain a site (or all sites), register models, promote the champion")
    g = t.add_mutually_exclusive_group(required=True)
    g.add_argument("--site", help="site_id")
    g.add_argument("--all", action="store_true", help="every site")
    t.add_argument("--as-of", type=_utc, help="use data before this UTC time (default: now)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    r = fsub.add_parser("run", help="write every site's champion forecast (idempotent per issue time)")
    r.add_argument("--issued-at", type=_utc, help="issue time, floored to 15 min (default: now)")
    r.set_defaults(func=cmd_run)

    d = fsub.add_parser("drift", help="rolling skill of the champions vs smart persistence; raise drift alerts")
    d.add_argument("--as-of", type=_utc, help="end of the scoring window (default: now)")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_drift)

    m = fsub.add_parser("models", help="model registry: versions, metrics, champion and model age")
    m.add_argument("--site", help="only this site")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)


def _load_backtest_input(args: argparse.Namespace) -> tuple[pd.Series, Any, float, bool, Any]:
    from heliosgrid.forecast.datasets import load_dataset, load_power_csv
    from heliosgrid.forecast.hygiene import clean_power_series
    from heliosgrid.forecast.solar import ForecastInputError, site_from_capacity

    if args.dataset:
        ds = load_dataset(args.dataset)
        return ds.series, ds.site, ds.capacity_kw, True, ds.hygiene
    if args.timestamp_col is None and args.power_col is None:
        from heliosgrid.cli._args import two_column_names

        args.timestamp_col, args.power_col = two_column_names(args.csv, "--power-col") or (None, None)
    missing = [f"--{n.replace('_', '-')}" for n in ("timestamp_col", "power_col", "latitude", "longitude", "capacity_kw")
               if getattr(args, n) is None]
    if missing:
        raise ForecastInputError(f"--csv needs {', '.join(missing)}")
    if not args.capacity_kw > 0 or math.isinf(args.capacity_kw):
        raise ForecastInputError(f"--capacity-kw must be > 0, got {args.capacity_kw}")
    if args.tilt is not None and not 0 <= args.tilt <= 90:
        raise ForecastInputError(f"--tilt must be within [0, 90] degrees, got {args.tilt}")
    if args.azimuth is not None and not 0 <= args.azimuth <= 360:
        raise ForecastInputError(f"--azimuth must be within [0, 360] degrees, got {args.azimuth}")
    raw = load_power_csv(args.csv, timestamp_col=args.timestamp_col, power_col=args.power_col, tz=args.tz,
                         power_unit=args.power_unit, raw=True)
    tracker = args.tracking == "single-axis"
    site = site_from_capacity(args.csv.stem[:64] or "csv-site", args.latitude, args.longitude, args.capacity_kw,
                              altitude_m=args.altitude, timezone=args.tz,
                              surface_tilt_deg=args.tilt,
                              surface_azimuth_deg=args.azimuth, tracking="single_axis" if tracker else "fixed")
    infer = args.tilt is None and args.azimuth is None and not tracker
    series, report = clean_power_series(raw, site, args.capacity_kw)
    return series, site, args.capacity_kw, infer, report


def cmd_backtest(args: argparse.Namespace) -> int:
    from heliosgrid.forecast.backtest import plot_backtest, run_backtest
    from heliosgrid.forecast.models import MODEL_CLASSES
    from heliosgrid.forecast.solar import ForecastInputError
    from heliosgrid.forecast.weather import FileWeatherProvider

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_CLASSES]
    if unknown or not models:
        given = ", ".join(unknown) or "(none given)"
        raise ForecastInputError(f"unknown model(s) {given}; choose from {', '.join(MODEL_CLASSES)}")
    if args.corpus:
        return _backtest_corpus(args, models)
    series, site, capacity, infer, report = _load_backtest_input(args)
    weather = FileWeatherProvider(args.weather_csv) if args.weather_csv else _settings_weather(site)
    result = run_backtest(series, site, capacity, models=models, test_days=args.test_days,
                          origin_step_h=args.origin_step_h, weather=weather, fit_orientation=infer, hygiene=report)
    if args.plot:
        plot_backtest(result, args.plot)
    if args.json:
        out = result.to_json()
        if args.plot:
            out["plot"] = str(args.plot)
        print(json.dumps(out, indent=2))
    else:
        print(result.table())
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


def _settings_weather(site: Any) -> Any:
    from heliosgrid.forecast.open_meteo import provider_from_settings
    from heliosgrid.settings import get_settings

    return provider_from_settings(get_settings(), site.latitude_deg, site.longitude_deg)


def _backtest_corpus(args: argparse.Namespace, models: list[str]) -> int:
    """Backtest every corpus series; JSON ``{"corpus": {name: backtest | skipped}, "summary": [...]}``."""
    from heliosgrid.forecast.backtest import plot_backtest, run_backtest
    from heliosgrid.forecast.bounds import hindsight_bounds
    from heliosgrid.forecast.corpus import CORPUS, skipped_entry, summary_rows

    out: dict[str, Any] = {}
    for entry in CORPUS:
        if entry.loader is None:
            out[entry.name] = skipped_entry(entry)
            continue
        ds = entry.loader()
        result = run_backtest(ds.series, ds.site, ds.capacity_kw, models=models, test_days=args.test_days,
                              origin_step_h=args.origin_step_h, fit_orientation=True, hygiene=ds.hygiene,
                              weather=_settings_weather(ds.site))
        out[entry.name] = {"file": entry.file, "description": ds.description, "backtest": result.to_json(),
                           "bounds_vs_best_reference": hindsight_bounds(result, ds.series)}
        if args.plot:
            path = args.plot.with_name(f"{args.plot.stem}-{entry.name}{args.plot.suffix or '.png'}")
            out[entry.name]["plot"] = str(plot_backtest(result, path))
        if not args.json:
            print(f"== {entry.name}: {ds.description}\n{result.table()}\n")
    summary = summary_rows(out)
    if args.json:
        print(json.dumps({"corpus": out, "summary": summary}, indent=2))
    else:
        for row in summary:
            print(" ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def _db() -> Any:
    from heliosgrid.db.connection import ensure_local_database, open_connection
    from heliosgrid.settings import get_settings

    settings = get_settings()
    return settings, open_connection(ensure_local_database(settings))


def cmd_train(args: argparse.Namespace) -> int:
    from heliosgrid.forecast.pipeline import retrain_site
    from heliosgrid.forecast.solar import ForecastInputError

    settings, conn = _db()
    as_of = args.as_of or datetime.now(UTC)
    failures = 0
    results = []
    with conn:
        sites = [args.site] if args.site else [r[0] for r in conn.execute("SELECT site_id FROM sites ORDER BY site_id")]
        for site_id in sites:
            try:
                res = retrain_site(conn, site_id, settings, as_of)
            except ForecastInputError as exc:
                conn.rollback()
                if args.site:
                    raise
                print(f"error: {exc}", file=sys.stderr)
                failures += 1
                continue
            conn.commit()  # retrain_site never commits the caller's transaction
            results.append(res.as_dict())
            if not args.json:
                print(f"{site_id}: champion {res.champion_version} ({'promoted' if res.promoted else 'kept'}: {res.reason}); "
                      f"{len(res.candidates)} candidates in {res.duration_s:.1f}s")
                print("  input hygiene: " + _hygiene_line(res.hygiene))
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    return 2 if failures else 0


def _hygiene_line(h: dict[str, Any]) -> str:
    keys = ("duplicate_timestamps", "sentinels", "negative_night", "negative_day", "above_nameplate",
            "flatline_intervals", "gap_intervals", "night_missing_intervals", "isolated_intervals", "dead_days")
    parts = [f"{k}={h.get(k, 0)}" for k in keys]
    segments = (h.get("clock") or {}).get("segments") or []
    parts.append(f"clock_shifts={len(segments)}")
    text = ", ".join(parts)
    for w in h.get("warnings", []):
        text += f"\n  warning: {w}"
    return text


def cmd_run(args: argparse.Namespace) -> int:
    import pandas as pd

    from heliosgrid.forecast.pipeline import run_forecasts

    settings, conn = _db()
    issued = args.issued_at or datetime.now(UTC)
    with conn:
        n = run_forecasts(conn, settings, issued)
    print(f"wrote {n} forecast rows issued at {pd.Timestamp(issued).floor('15min').isoformat()}")
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from heliosgrid.forecast.pipeline import check_drift

    settings, conn = _db()
    with conn:
        alerts = check_drift(conn, settings, args.as_of or datetime.now(UTC))
    if args.json:
        print(json.dumps(alerts, indent=2, default=str))
    else:
        print(f"{len(alerts)} active forecast drift alert(s)")
        for a in alerts:
            print(f"  {a['site_id']}: {a['title']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from heliosgrid.forecast.metrics import DAY_AHEAD_BUCKET
    from heliosgrid.forecast.registry import list_models

    _, conn = _db()
    with conn:
        rows = list_models(conn, args.site)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no models registered (run: heliosgrid forecast train --all)")
        return 0
    print(f"{'site':<16} {'model':<12} {'champion':<8} {'age h':>7} {'DA nRMSE':>9} {'DA skill':>9}  version")
    for r in rows:
        da = (r["metrics"] or {}).get(DAY_AHEAD_BUCKET) or {}
        nrmse = da.get("nrmse")
        skill = da.get("skill")
        print(f"{r['site_id']:<16} {r['model_name']:<12} {'yes' if r['is_champion'] else '':<8} {float(r['age_h']):>7.1f} "
              f"{nrmse if nrmse is None else format(nrmse, '.3f'):>9} {skill if skill is None else format(skill, '.3f'):>9}  "
              f"{r['model_version']}")
    return 0
