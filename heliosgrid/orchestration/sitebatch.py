"""Fleet-scale DAG runs: sites in batches, one mapped Airflow task per batch, per-site isolation.

The forecast, maintenance and retrain DAGs each run three tasks:

1. ``batches`` — the sites the DAG works on (:func:`fleet_site_ids`), cut into lists of
   ``Settings.fleet_batch_size`` (:func:`chunk`);
2. one mapped task per batch (``.expand``), at most ``Settings.fleet_max_active_tis`` at once per
   DAG, all in the Airflow pool ``Settings.fleet_db_pool`` (its slots bound the database load of
   all fleet DAGs together). Each runs :func:`run_site_batch`;
3. ``report`` — :func:`fleet_report` sums the batch summaries (the run's XCom and log line).

**Failure rule.** A site that raises is recorded with its error and the next site runs; each
failed site gets a ``pipeline`` alert (site = the site, fault type ``<kind>_site_failed``,
resolved by the next run in which that site succeeds). A batch task *succeeds* when at least
one of its sites succeeded or was skipped (skipped = a normal "not yet", e.g. too little history
for a new plant); it *fails* — :class:`SiteBatchFailed`, so Airflow retries it and the
``dag_failed`` alert fires — only when every site of a non-empty batch failed, which points at
something shared (database down, broken deployment), not at one plant.

``BaseException`` (Airflow's task timeout, SIGTERM) is never caught: the batch stops.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import psycopg

from heliosgrid.alerts import AlertKey, raise_alert, resolve_absent
from heliosgrid.settings import Settings

log = logging.getLogger(__name__)

Kind = Literal["forecast", "maintenance", "retrain"]
KINDS: tuple[Kind, ...] = ("forecast", "maintenance", "retrain")
SITE_FAILED_SUFFIX = "_site_failed"
MAX_ERROR_CHARS = 2000

SiteRunner = Callable[[psycopg.Connection, str], dict[str, Any]]
"""Runs one site; returns a JSON-friendly summary, with key ``skipped`` (reason) when skipped."""


class SiteBatchFailed(RuntimeError):
    """Every site of a batch failed: the task fails so that Airflow retries it and alerts."""


def site_failed_fault_type(kind: Kind) -> str:
    """Alert fault type of a site that failed in the ``kind`` DAG, e.g. ``forecast_site_failed``."""
    return f"{kind}{SITE_FAILED_SUFFIX}"


def chunk(site_ids: Sequence[str], batch_size: int) -> list[list[str]]:
    """``site_ids`` in order, cut into lists of at most ``batch_size`` (the last may be shorter)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return [list(site_ids[i:i + batch_size]) for i in range(0, len(site_ids), batch_size)]


def fleet_site_ids(conn: psycopg.Connection, kind: Kind) -> list[str]:
    """Sites the ``kind`` DAG works on, sorted: sites with an inverter (forecast, retrain) or with
    any device (maintenance)."""
    if kind not in KINDS:
        raise ValueError(f"unknown fleet DAG kind {kind!r}; expected one of {', '.join(KINDS)}")
    where = "" if kind == "maintenance" else "WHERE kind = 'inverter'"
    rows = conn.execute(f"SELECT DISTINCT site_id FROM devices {where} ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


@dataclass
class SiteBatchReport:
    """Outcome of one batch: per-site summaries, skips (reason) and failures (error text)."""

    kind: Kind
    as_of: datetime
    site_ids: list[str]
    ok: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    alerts_raised: int = 0
    alerts_resolved: int = 0

    @property
    def all_failed(self) -> bool:
        """True when the batch had sites and every one of them failed (the batch-failure rule)."""
        return bool(self.site_ids) and len(self.failed) == len(self.site_ids)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (the task's XCom)."""
        return {"kind": self.kind, "as_of": self.as_of.isoformat(), "sites": len(self.site_ids),
                "ok": sorted(self.ok), "skipped": dict(sorted(self.skipped.items())),
                "failed": dict(sorted(self.failed.items())), "alerts_raised": self.alerts_raised,
                "alerts_resolved": self.alerts_resolved, "details": {s: self.ok[s] for s in sorted(self.ok)}}


def run_site_batch(conn: psycopg.Connection, kind: Kind, site_ids: Sequence[str], as_of: datetime,
                   run_one: SiteRunner) -> SiteBatchReport:
    """Run ``run_one`` for each site of the batch, isolating failures (see module docstring).

    ``run_one`` owns its site's transaction. Afterwards the per-site failure alerts are written
    (one transaction) and the batch-failure rule applied: raises :class:`SiteBatchFailed` when
    every site failed, after the alerts are stored.
    """
    report = SiteBatchReport(kind, as_of, list(site_ids))
    for site_id in site_ids:
        if conn.broken:
            report.failed[site_id] = "database connection lost earlier in this batch"
            continue
        try:
            out = run_one(conn, site_id)
        except Exception as exc:  # isolating one plant's failure is the point of the batch
            log.exception("%s: site %s failed", kind, site_id)
            report.failed[site_id] = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            continue
        if "skipped" in out:
            report.skipped[site_id] = str(out["skipped"])
        else:
            report.ok[site_id] = out
    record_site_failures(conn, report)
    log.info("%s batch of %d sites: %d ok, %d skipped, %d failed", kind, len(report.site_ids), len(report.ok),
             len(report.skipped), len(report.failed))
    if report.all_failed:
        raise SiteBatchFailed(f"{kind}: all {len(report.site_ids)} sites of the batch failed; first: "
                              f"{next(iter(report.failed.items()))}")
    return report


def record_site_failures(conn: psycopg.Connection, report: SiteBatchReport) -> None:
    """One ``pipeline`` alert per failed site; resolve that alert for the batch's other sites."""
    fault = site_failed_fault_type(report.kind)
    active: set[AlertKey] = set()
    with conn.transaction():
        for site_id, error in report.failed.items():
            active.add((site_id, "", fault))
            raise_alert(conn, site_id=site_id, source="pipeline", fault_type=fault, severity="warning",
                        title=f"{report.kind} failed for site {site_id}", started_at=report.as_of,
                        last_seen_at=report.as_of, evidence={"error": error, "kind": report.kind},
                        recommended_action=f"Open the log of the {report.kind} DAG's batch task holding this "
                        "site (Airflow UI); the other sites were processed. The alert resolves when a later "
                        "run succeeds for this site.")
            report.alerts_raised += 1
        report.alerts_resolved = resolve_absent(conn, "pipeline", [fault], active, report.as_of,
                                                site_ids=report.site_ids)


def fleet_report(kind: Kind, summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals over the batch summaries of one DAG run (the ``report`` task)."""
    batches = list(summaries)
    failed: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for s in batches:
        failed.update(s.get("failed", {}))
        skipped.update(s.get("skipped", {}))
    out = {"kind": kind, "batches": len(batches), "sites": sum(int(s.get("sites", 0)) for s in batches),
           "ok": sum(len(s.get("ok", [])) for s in batches), "skipped": skipped, "failed": failed}
    log.info("%s fleet run: %s", kind, {k: v for k, v in out.items() if k not in ("skipped",)})
    return out


def db_pool_command(settings: Settings, airflow_bin: str | None = None) -> list[str]:
    """``airflow pools set`` argv creating or updating the database pool (idempotent)."""
    airflow = airflow_bin or shutil.which("airflow") or str(Path(sys.executable).with_name("airflow"))
    return [airflow, "pools", "set", settings.fleet_db_pool, str(settings.fleet_db_pool_slots),
            "HeliosGrid database: site-batch tasks of the forecast, maintenance and retrain DAGs"]
