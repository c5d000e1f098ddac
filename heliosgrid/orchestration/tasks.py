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
    per violated contract (site ``_pipeline``, device = contract name), resolved when it holds."""
    from heliosgrid.alerts import raise_alert, resolve_absent
    from heliosgrid.contracts import check_contracts
    from heliosgrid.orchestration.dagkit import PIPELINE_SITE_ID

    _, end = data_interval(context)
    with task_connection() as conn:
        results = check_contracts(conn, as_of=end)
        active: set[tuple[str, str, str]] = set()
        with conn.transaction():
            for res in results:
                if res.ok:
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
    return {"as_of": end.isoformat(), "contracts": len(results),
            "violated": sorted(r.name for r in results if not r.ok), "alerts_resolved": resolved}


def forecast_task(context: Any) -> dict[str, Any]:
    """Issue every site's champion forecast at the interval end, then score drift at the same time.

    Cold start: a site that has no champion yet (a new plant, or a fresh ``make up``) is trained
    first, as of the same interval end, once it has enough history; until then it is skipped.
    The daily retrain DAG keeps the champions current afterwards.
    """
    from heliosgrid.forecast import ForecastInputError
    from heliosgrid.forecast.pipeline import check_drift, current_champion, retrain_site, run_forecasts

    _, end = data_interval(context)
    settings = get_settings()
    bootstrapped: list[str] = []
    with task_connection(settings) as conn:
        for site_id in _inverter_site_ids(conn):
            if current_champion(conn, site_id) is not None:
                continue
            try:
                retrain_site(conn, site_id, settings, end)
                bootstrapped.append(site_id)
            except ForecastInputError as exc:
                log.info("cold start of site %s postponed: %s", site_id, exc)
        rows = run_forecasts(conn, settings, end)
        drift = check_drift(conn, settings, end)
    return {"issued_at": end.isoformat(), "forecast_rows": rows, "bootstrapped_sites": bootstrapped,
            "drift": [{k: v for k, v in d.items() if isinstance(v, str | int | float | bool) or v is None}
                      for d in drift]}


def _inverter_site_ids(conn: Any) -> list[str]:
    rows = conn.execute("SELECT DISTINCT site_id FROM devices WHERE kind = 'inverter' ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def sites_with_inverters(context: Any) -> list[str]:
    """Site ids that have at least one inverter (the sites a retrain can model)."""
    with task_connection() as conn:
        return _inverter_site_ids(conn)


def retrain_task(site_id: str, context: Any) -> dict[str, Any]:
    """Retrain, backtest and maybe promote one site's models on data before the interval end.

    A site without enough history yet is skipped (returned with ``skipped``), not failed: it is
    the normal state of a newly commissioned plant.
    """
    from heliosgrid.forecast import ForecastInputError
    from heliosgrid.forecast.pipeline import retrain_site

    _, end = data_interval(context)
    settings = get_settings()
    with task_connection(settings) as conn:
        try:
            result = retrain_site(conn, site_id, settings, end)
        except ForecastInputError as exc:
            log.warning("retrain %s skipped: %s", site_id, exc)
            return {"site_id": site_id, "as_of": end.isoformat(), "skipped": str(exc)}
    out = result.as_dict()
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in out.items()}


def maintenance_task(context: Any) -> dict[str, Any]:
    """Run the fault detectors over the data interval and update maintenance alerts (one transaction)."""
    from heliosgrid.maintenance.runner import run_maintenance

    start, end = data_interval(context)
    settings = get_settings()
    with task_connection(settings) as conn, conn.transaction():
        summary = run_maintenance(conn, settings, start, end)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in summary.items()}
