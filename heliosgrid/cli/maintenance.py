"""``heliosgrid maintenance run|evaluate|kpis``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from heliosgrid.cli import CLIError
from heliosgrid.units import OUTPUT_UNITS

_RELATIVE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[mhd])$")


def parse_time(value: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 with a time zone (``2026-05-01T00:00Z``) or a duration before now (``90m``, ``24h``, ``7d``)."""
    now = now or datetime.now(UTC)
    m = _RELATIVE.match(value.strip())
    if m:
        n = float(m["n"])
        delta = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[m["unit"]]
        return now - delta
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CLIError(f"invalid time {value!r}: use ISO 8601 with a time zone (2026-05-01T00:00Z) or 90m/24h/7d") from None
    if ts.tzinfo is None:
        raise CLIError(f"time {value!r} has no time zone: add Z or an offset such as +02:00")
    return ts.astimezone(UTC)


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CLIError(f"invalid day {value!r}: expected YYYY-MM-DD") from None


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("maintenance", help="predictive maintenance: run detectors, evaluate them, KPIs")
    msub = p.add_subparsers(dest="maintenance_command", metavar="ACTION")
    msub.required = True

    run = msub.add_parser("run", help="run the detectors over a window and update alerts (idempotent)")
    run.add_argument("--site", action="append", dest="sites", metavar="SITE_ID", help="limit to a site (repeatable)")
    run.add_argument("--since", default="24h", help="window start: ISO 8601 with zone or 90m/24h/7d ago (default 24h)")
    run.add_argument("--until", default=None, help="window end: ISO 8601 with zone or duration ago (default now)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.set_defaults(func=cmd_run)

    ev = msub.add_parser("evaluate", help="score the detectors on simulated faults and pvanalytics labelled data")
    ev.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    ev.add_argument("--seed", type=int, default=42, help="simulator / fault schedule seed (default 42)")
    ev.add_argument("--fault-rate", type=float, default=3.0, help="random faults per device per 30 days (default 3)")
    ev.add_argument("--no-real-data", action="store_true", help="skip the pvanalytics labelled sets")
    ev.add_argument(
        "--real",
        action="store_true",
        help="evaluate on the real NREL series of the pvanalytics wheel (clean and with injected faults), not the simulator",
    )
    ev.add_argument("--series", action="append", metavar="NAME", help="with --real: limit to a series (repeatable; default all)")
    _add_csv_arguments(ev)
    ev.add_argument("--json", action="store_true", help="print the full result as JSON")
    ev.set_defaults(func=cmd_evaluate)

    k = msub.add_parser("kpis", help="daily KPIs (energy, specific yield, PR, availability, lost energy)")
    k.add_argument("--level", choices=("site", "device"), default="site")
    k.add_argument("--site", default=None, metavar="SITE_ID")
    k.add_argument("--from", dest="start_day", default=None, help="first site-local day YYYY-MM-DD")
    k.add_argument("--to", dest="end_day", default=None, help="last site-local day YYYY-MM-DD")
    k.add_argument("--json", action="store_true")
    k.set_defaults(func=cmd_kpis)


def cmd_run(args: argparse.Namespace) -> int:
    from heliosgrid.db.connection import connect
    from heliosgrid.maintenance.runner import run_maintenance
    from heliosgrid.settings import get_settings

    now = datetime.now(UTC)
    until = parse_time(args.until, now=now) if args.until else now
    since = parse_time(args.since, now=until)
    if until <= since:
        raise CLIError(f"--until ({until.isoformat()}) must be after --since ({since.isoformat()})")
    settings = get_settings()
    with connect(settings) as conn:
        summary = run_maintenance(conn, settings, since, until, site_ids=args.sites)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"window {summary['window_start']} .. {summary['window_end']}: {summary['alerts_raised_or_updated']} alert(s) "
            f"raised/updated, {summary['alerts_resolved']} resolved, {summary['alerts_active']} active, "
            f"energy lost {summary['energy_lost_kwh']:.1f} kWh"
        )
        for fault_type, n in sorted(summary["findings"].items()):
            print(f"  {fault_type:<18} {n}")
    return 0


def _add_csv_arguments(ev: argparse.ArgumentParser) -> None:
    g = ev.add_argument_group("your own plant (--real --csv)", "score the detectors on a CSV of one inverter, clean "
                              "and with the same injected faults as the built-in series")
    g.add_argument("--csv", type=Path,
                   help="CSV with a timestamp and an AC power column, and a POA (or GHI) column if it has one")
    g.add_argument("--timestamp-col", help="timestamp column (ISO 8601; naive times are in --tz; '' for a first column "
                   "without a header). A file of exactly two columns needs neither this nor --ac-col: timestamp "
                   "first, power second")
    g.add_argument("--ac-col", help="AC power column (kW unless --power-unit says otherwise)")
    g.add_argument("--power-unit", choices=OUTPUT_UNITS, default="kW",
                   help="unit of the AC column: mean power (W, kW, MW) or energy per interval (Wh, kWh, MWh; "
                        "the interval is the file's median step)")
    g.add_argument("--poa-col", help="plane-of-array irradiance sensor column, W/m²")
    g.add_argument("--ghi-col", help="without a POA sensor: GHI column, W/m² (transposed to the array plane); "
                                     "without either the clear sky is the irradiance reference (the sensor "
                                     "detectors are then not evaluated)")
    g.add_argument("--module-temp-col", help="module temperature column, °C (optional)")
    g.add_argument("--ambient-temp-col", help="ambient temperature column, °C (optional)")
    g.add_argument("--latitude", type=float, help="site latitude, degrees north")
    g.add_argument("--longitude", type=float, help="site longitude, degrees east")
    g.add_argument("--altitude", type=float, default=0.0, help="site altitude, m (default 0)")
    g.add_argument("--tilt", type=float, help="array tilt, degrees (default: inferred from the data, with --azimuth)")
    g.add_argument("--azimuth", type=float, help="array azimuth, degrees east of north (180 = south; default: inferred)")
    g.add_argument("--tracking", choices=("single-axis",), help="the array is a single-axis tracker (backtracking, "
                   "±60°); --tilt/--azimuth are then its axis's, default 0/180 (north-south). Default: a fixed "
                   "array, or a tracker when the data say so")
    g.add_argument("--tz", help="IANA time zone of naive timestamps and of the site's days (default: naive "
                   "times are UTC, days follow the longitude's standard time)")
    g.add_argument("--dc-kw", type=float, help="DC nameplate, kW (default: inferred from the data)")
    g.add_argument("--ac-kw", type=float, help="AC nameplate, kW (default: the series' maximum AC power)")
    g.add_argument("--name", help="series name in the result (default: the file name)")


def _csv_series(args: argparse.Namespace) -> list[Any]:
    from heliosgrid.cli._args import two_column_names
    from heliosgrid.maintenance.csv_series import CsvSpec, SeriesInputError, load_csv_series

    if args.series:
        raise CLIError("--csv and --series exclude each other: evaluate either your file or built-in series")
    if args.timestamp_col is None and args.ac_col is None:
        args.timestamp_col, args.ac_col = two_column_names(args.csv, "--ac-col") or (None, None)
    needed = {"--timestamp-col": args.timestamp_col, "--ac-col": args.ac_col, "--latitude": args.latitude,
              "--longitude": args.longitude}
    missing = [flag for flag, value in needed.items() if value is None]
    if missing:
        raise CLIError(f"--csv needs {', '.join(missing)}")
    spec = CsvSpec(args.csv, args.timestamp_col, args.ac_col, args.latitude, args.longitude, args.tilt, args.azimuth,
                   poa_col=args.poa_col, ghi_col=args.ghi_col, module_temp_col=args.module_temp_col,
                   ambient_temp_col=args.ambient_temp_col, power_unit=args.power_unit, tz=args.tz,
                   altitude_m=args.altitude, dc_kw=args.dc_kw, ac_kw=args.ac_kw, name=args.name,
                   tracking="single_axis" if args.tracking == "single-axis" else None)
    try:
        return [load_csv_series(spec)]
    except SeriesInputError as exc:
        raise CLIError(str(exc)) from None


def _evaluate_real(args: argparse.Namespace) -> int:
    from heliosgrid.maintenance.real_eval import evaluate_real
    from heliosgrid.maintenance.realdata import CORPUS

    if args.csv is not None:
        series = _csv_series(args)
        for s in series:
            for warning in s.warnings:
                print(f"warning: {s.name}: {warning}", file=sys.stderr)
        result = evaluate_real(series=series)
    else:
        unknown = sorted(set(args.series or []) - set(CORPUS))
        if unknown:
            raise CLIError(f"unknown series {', '.join(unknown)}; expected one of {', '.join(CORPUS)}")
        result = evaluate_real(tuple(args.series) if args.series else None)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(f"clean real series: {result['site_days']} site-days; false alerts per 30 site-days")
    for cadence, rates in result["false_alerts_per_30_site_days_by_cadence"].items():
        print(f"  {cadence:>6}: " + ", ".join(f"{k} {v:g}" for k, v in rates.items()))
    print(f"{'fault type':<18} {'n':>3} {'prec':>6} {'recall':>6} {'delay_h':>8} {'energy_err':>10}")
    for fault_type, e in result["per_fault_type"].items():
        prec = "-" if e["precision"] is None else f"{e['precision']:.2f}"
        delay = "-" if e["median_delay_h"] is None else f"{e['median_delay_h']:.2f}"
        err = "-" if e["median_energy_error"] is None else f"{e['median_energy_error']:.1%}"
        print(f"{fault_type:<18} {e['faults']:>3} {prec:>6} {e['recall']:>6.2f} {delay:>8} {err:>10}")
    for detector, reasons in result["not_evaluated"].items():
        for reason in reasons:
            print(f"not evaluated: {detector}: {reason}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from heliosgrid.maintenance.evaluation import evaluate

    if args.real or args.csv is not None:
        return _evaluate_real(args)
    if args.days < 1 or args.days > 366:
        raise CLIError(f"--days must be between 1 and 366, got {args.days}")
    if args.fault_rate <= 0:
        raise CLIError(f"--fault-rate must be > 0, got {args.fault_rate}")
    result = evaluate(args.days, args.seed, fault_rate_per_device_month=args.fault_rate, real_data=not args.no_real_data)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(f"{'fault type':<18} {'n':>3} {'prec':>6} {'recall':>6} {'delay_h':>8} {'energy_err':>10}  target")
    for fault_type, e in result["per_fault_type"].items():
        delay = e["median_delay_from_daylight_h"]
        err = e.get("energy_rel_error")
        print(
            f"{fault_type:<18} {e['faults']:>3} {e['precision']:>6.2f} {(e['recall'] or 0):>6.2f} "
            f"{'-' if delay is None else f'{delay:.2f}':>8} {'-' if err is None else f'{err:+.1%}':>10}  "
            f"{'met' if result['targets_met'][fault_type] else 'MISSED'}"
        )
    for name, e in result.get("pvanalytics_labelled", {}).items():
        print(f"pvanalytics {name:<12} precision {e['precision']} recall {e['recall']}  ({e['method']})")
    return 0


def cmd_kpis(args: argparse.Namespace) -> int:
    from heliosgrid.db.connection import connect
    from heliosgrid.maintenance.kpis import daily_kpis
    from heliosgrid.settings import get_settings

    start_day = _parse_day(args.start_day) if args.start_day else None
    end_day = _parse_day(args.end_day) if args.end_day else None
    with connect(get_settings()) as conn:
        rows = daily_kpis(conn, level=args.level, site_id=args.site, start_day=start_day, end_day=end_day)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for r in rows:
        who = r["site_id"] if args.level == "site" else r["device_id"]

        def fmt(x: float | None, spec: str) -> str:
            return "-" if x is None else format(x, spec)

        print(
            f"{r['local_day']} {who:<22} E {fmt(r['energy_kwh'], '10.1f')} kWh  Yf {fmt(r['specific_yield_kwh_kwp'], '5.2f')}  "
            f"PR {fmt(r['performance_ratio'], '5.3f')}  PR25 {fmt(r['performance_ratio_temp_corr'], '5.3f')}  "
            f"avail {fmt(r['availability'], '5.3f')}  lost {fmt(r['lost_energy_kwh'], '8.1f')} kWh"
        )
    return 0
