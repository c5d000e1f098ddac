"""The bodies of the DAG tasks: each takes the Airflow task context, opens one database
connection (:mod:`heliosgrid.orchestration.db`), calls the library, and returns a small
JSON-serialisable summary (stored as the task's XCom and shown in the Airflow UI).

Every function derives its window / ``as_of`` / ``issued_at`` from the run's data interval
(:func:`heliosgrid.orchestration.dagkit.data_interval`), never from the wall clock, so a re-run
of the same interval writes the same rows.
"""

from __future__ import annotations

import logging
from typing import Any

from heliosgrid.orchestration.dagkit import data_interval
from heliosgrid.orchestration.db import task_connection
from heliosgrid.orchestration.sitebatch import Kind, run_site_batch
from heliosgrid.settings import get_settings

log = logging.getLogger(__name__)


def quality_task(context: Any) -> dict[str, Any]:
    """Run every data-quality and freshness check over the run's data interval.

    Failing checks become quality alerts; the task itself succeeds (it only fails when the
    checks cannot run, e.g. the database is unreachable).
    """
    from heliosgrid.quality import run_quality

    start, end = data_interval(context)
    settings = get_settings()
    with task_connection(settings) as conn:
        report = run_quality(conn, settings, start, end, run_id=str(context.get("run_id") or ""))
    summary = report.summary()
    log.info("quality %s", {k: v for k, v in summary.items() if k != "failures"})
    return summary


def stream_supervision_task(context: Any) -> dict[str, Any]:
    """Heartbeats, consumer lag and local restarts at the data-interval end (see
    :mod:`heliosgrid.orchestration.supervision`)."""
    from heliosgrid.orchestration.supervision import supervise_stream

    _, end = data_interval(context)
    settings = get_settings()
    with task_connection(settings) as conn:
        report = supervise_stream(conn, settings, end)
    return report.summary()


def housekeeping_task(context: Any) -> dict[str, Any]:
    """Rollup refresh + retention (PostgreSQL) or policy-job status (TimescaleDB) at the interval end."""
    from heliosgrid.orchestration.housekeeping import run_housekeeping

    _, end = data_interval(context)
    with task_connection() as conn:
        return run_housekeeping(conn, end)


CONTRACT_VIOLATION = "contract_violation"


def contracts_task(context: Any) -> dict[str, Any]:
    """Check the data contracts (``contracts/*.yaml``) at the interval end; one ``quality`` alert
    per violated contract (site ``_pipeline``, device = contract name), resolved when it holds.

    Cold start: a contract whose producing DAG (``producedByDag``) has no successful run recorded
    in ``pipeline_runs`` yet is *pending*, not violated (a fresh stack opens no alerts); from that
    DAG's first success on, violations alert as usual."""
    from heliosgrid.alerts import raise_alert, resolve_absent
    from heliosgrid.contracts import check_contracts
    from heliosgrid.orchestration.dagkit import PIPELINE_SITE_ID, dags_that_succeeded

    _, end = data_interval(context)
    with task_connection() as conn:
        results = check_contracts(conn, as_of=end)
        produced = dags_that_succeeded(conn)  # this DAG's current run is not among them yet
        pending = sorted(r.name for r in results if not r.ok and r.producer_dag and r.producer_dag not in produced)
        active: set[tuple[str, str, str]] = set()
        with conn.transaction():
            for res in results:
                if res.ok or res.name in pending:
                    continue
                active.add((PIPELINE_SITE_ID, res.name, CONTRACT_VIOLATION))
                raise_alert(
                    conn, site_id=PIPELINE_SITE_ID, device_id=res.name, source="quality",
                    fault_type=CONTRACT_VIOLATION, severity="warning",
                    title=f"Data contract {res.name} {res.version} violated ({len(res.violations)} finding(s))",
                    started_at=end, last_seen_at=end,
                    evidence={"contract": res.path, "violations": [
                        {"kind": f.kind, "name": f.name, "detail": f.detail, "measured": f.measured,
                         "expected": f.expected} for f in res.violations]},
                    recommended_action="Run `heliosgrid contracts check` and fix the data product or the "
                    "contract; the alert resolves when the contract holds again.",
                )
            resolved = resolve_absent(conn, "quality", [CONTRACT_VIOLATION], active, end, site_ids=[PIPELINE_SITE_ID])
    return {"as_of": end.isoformat(), "contracts": len(results), "pending_first_run": pending,
            "violated": sorted(r.name for r in results if not r.ok and r.name not in pending),
            "alerts_resolved": resolved}


def site_batches_task(context: Any, kind: Kind) -> list[list[str]]:
    """The sites of the ``kind`` DAG in batches of ``HELIOS_FLEET_BATCH_SIZE`` (the mapped tasks' input)."""
    from heliosgrid.orchestration.sitebatch import chunk, fleet_site_ids

    settings = get_settings()
    with task_connection(settings) as conn:
        return chunk(fleet_site_ids(conn, kind), settings.fleet_batch_size)


def forecast_batch_task(site_ids: list[str], context: Any) -> dict[str, Any]:
    """Each site of the batch: cold start if needed, champion forecast at the interval end, drift.

    Cold start: a site that has no champion yet (a new plant, or a fresh ``make up``) is trained
    first, as of the same interval end, once it has enough history; until then it is skipped.
    The daily retrain DAG keeps the champions current afterwards.
    """
    from heliosgrid.forecast import ForecastInputError
    from heliosgrid.forecast.pipeline import check_drift, current_champion, retrain_site, run_forecasts

    _, end = data_interval(context)
    settings = get_settings()

    def one_site(conn: Any, site_id: str) -> dict[str, Any]:
        bootstrapped = False
        if current_champion(conn, site_id) is None:
            try:
                retrain_site(conn, site_id, settings, end)
                bootstrapped = True
            except ForecastInputError as exc:
                return {"skipped": f"cold start postponed: {exc}"}
        rows = run_forecasts(conn, settings, end, site_ids=[site_id])
        drift = check_drift(conn, settings, end, site_ids=[site_id])
        return {"forecast_rows": rows, "bootstrapped": bootstrapped, "drift_alert": bool(drift)}

    with task_connection(settings) as conn:
        return run_site_batch(conn, "forecast", site_ids, end, one_site).summary()


def retrain_batch_task(site_ids: list[str], context: Any) -> dict[str, Any]:
    """Retrain, backtest and maybe promote each site's models on data before the interval end.

    A site without enough history yet is skipped, not failed: it is the normal state of a newly
    commissioned plant.
    """
    from heliosgrid.forecast import ForecastInputError
    from heliosgrid.forecast.pipeline import retrain_site

    _, end = data_interval(context)
    settings = get_settings()

    def one_site(conn: Any, site_id: str) -> dict[str, Any]:
        try:
            result = retrain_site(conn, site_id, settings, end)
        except ForecastInputError as exc:
            return {"skipped": str(exc)}
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in result.as_dict().items()
                if k in ("best_version", "champion_version", "promoted", "reason", "duration_s")}

    with task_connection(settings) as conn:
        return run_site_batch(conn, "retrain", site_ids, end, one_site).summary()


def maintenance_batch_task(site_ids: list[str], context: Any) -> dict[str, Any]:
    """Fault detectors over the data interval for each site of the batch (one transaction per site).

    On plain PostgreSQL the rollups are refreshed once for the batch first, outside the sites'
    transactions (the refresh's advisory lock would otherwise serialise the batches).
    """
    from heliosgrid.db.rollups import backend_of, refresh_rollups
    from heliosgrid.maintenance.runner import run_maintenance

    start, end = data_interval(context)
    settings = get_settings()

    def one_site(conn: Any, site_id: str) -> dict[str, Any]:
        with conn.transaction():
            out = run_maintenance(conn, settings, start, end, site_ids=[site_id], refresh_rollups=False)
        return {k: out[k] for k in ("findings", "alerts_raised_or_updated", "alerts_resolved", "energy_lost_kwh")}

    with task_connection(settings) as conn:
        if backend_of(conn) == "postgres":
            refresh_rollups(conn)
        return run_site_batch(conn, "maintenance", site_ids, end, one_site).summary()


def fleet_report_task(kind: Kind, summaries: Any) -> dict[str, Any]:
    """Totals of one fleet DAG run over its batch summaries (logged, and the run's XCom)."""
    from heliosgrid.orchestration.sitebatch import fleet_report

    return fleet_report(kind, list(summaries))
