"""Predictive maintenance: expected power, KPIs, fault detectors, alerts and their evaluation.

Entry points: :func:`run_maintenance` (database → detectors → alerts; the Airflow DAG and
``heliosgrid maintenance run``), :func:`analyse_site` (detectors over 15-minute frames),
:func:`daily_kpis` (KPI views), :func:`evaluate` (scores against simulator ground truth and the
pvanalytics labelled sets; ``heliosgrid maintenance evaluate``).
"""

from heliosgrid.maintenance.detectors import ALL_TYPES, FAULT_TYPES, Finding
from heliosgrid.maintenance.engine import analyse_site
from heliosgrid.maintenance.kpis import daily_kpis
from heliosgrid.maintenance.runner import run_maintenance


def evaluate(*args: object, **kwargs: object) -> dict[str, object]:
    """See :func:`heliosgrid.maintenance.evaluation.evaluate` (imported lazily: it needs the simulator)."""
    from heliosgrid.maintenance.evaluation import evaluate as _evaluate

    return _evaluate(*args, **kwargs)  # type: ignore[arg-type]


__all__ = ["ALL_TYPES", "FAULT_TYPES", "Finding", "analyse_site", "daily_kpis", "evaluate", "run_maintenance"]
