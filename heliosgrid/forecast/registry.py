"""Model registry: artefact files with an explicit format version, and the ``models`` table rows
(register, list, promote, champion). The functions that write take a connection and run inside the
caller's transaction; they never commit (the storage shell :func:`heliosgrid.forecast.pipeline.retrain_site`
owns the transaction).

Artefact file layout (format :data:`ARTIFACT_FORMAT`): two consecutive pickles in one file, a small
header ``{"format": int, "model_name": str, "written_by": "heliosgrid"}`` and then the
:class:`~heliosgrid.forecast.forecaster.Forecaster`. The header is read first, so an artefact from
another format is refused with a clear "retrain" message before its objects are unpickled.
Artefacts are trusted local files (pickle); never load them from untrusted sources (ADR 0021).
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from heliosgrid.forecast.ensemble import EnsembleForecaster
from heliosgrid.forecast.forecaster import Forecaster
from heliosgrid.forecast.metrics import DAY_AHEAD_BUCKET, HORIZON_BUCKETS
from heliosgrid.forecast.solar import ForecastInputError

#: Version of the artefact layout and of the pickled classes. Bump it whenever a change to the
#: forecaster, a model or the calibration makes older pickles load into a wrong state.
#: 1 = single pickle of ``heliosgrid.forecast.models`` (one module); 2 = header + forecaster (package layout).
ARTIFACT_FORMAT = 2
#: A candidate must beat the champion's day-ahead nRMSE by at least this much (absolute, fraction of capacity).
PROMOTION_MARGIN_NRMSE = 0.0005


def model_version(site_id: str, model_name: str, as_of: pd.Timestamp) -> str:
    """Deterministic version name: retraining for the same ``as_of`` updates the same row."""
    return f"{site_id}.{model_name}.{as_of:%Y%m%dT%H%MZ}"


def save_artifact(forecaster: Forecaster | EnsembleForecaster, path: Path) -> None:
    """Write ``forecaster`` atomically (temporary file, then rename) with the format header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    header = {"format": ARTIFACT_FORMAT, "model_name": forecaster.name, "written_by": "heliosgrid"}
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(header, fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(forecaster, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_artifact(path: Path | str) -> Forecaster | EnsembleForecaster:
    """Load a forecaster written by :func:`save_artifact` of the same :data:`ARTIFACT_FORMAT`."""
    p = Path(path)
    if not p.is_file():
        raise ForecastInputError(f"model artefact {p} is missing")
    retrain = "retrain the site (heliosgrid forecast train)"
    with p.open("rb") as fh:
        try:
            header = pickle.load(fh)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise ForecastInputError(f"model artefact {p} was written by an older version or is damaged ({exc}); "
                                     f"{retrain}") from None
        fmt = header.get("format") if isinstance(header, dict) else None
        if fmt != ARTIFACT_FORMAT:
            raise ForecastInputError(f"model artefact {p} has format {fmt!r}, this version reads {ARTIFACT_FORMAT}; {retrain}")
        try:
            fc = pickle.load(fh)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise ForecastInputError(f"model artefact {p} is damaged ({exc}); {retrain}") from None
    if not isinstance(fc, Forecaster | EnsembleForecaster):
        raise ForecastInputError(f"model artefact {p} does not hold a forecaster")
    return fc


def metrics_json(metrics: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Backtest metrics with NaN as None (JSONB has no NaN)."""
    return {b: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in m.items()}
            for b, m in metrics.items()}


def register_model(conn: psycopg.Connection, *, version: str, site_id: str, model_name: str, params: dict[str, Any],
                   train_start: Any, train_end: Any, data_hash: str, metrics: dict[str, Any], artifact_path: Path) -> None:
    """Insert or update (same version) one ``models`` row. Does not commit."""
    conn.execute(
        """INSERT INTO models (model_version, site_id, model_name, params, trained_at, train_start, train_end,
                               data_hash, metrics, artifact_path)
           VALUES (%s, %s, %s, %s, now(), %s, %s, %s, %s, %s)
           ON CONFLICT (model_version) DO UPDATE SET params = EXCLUDED.params, trained_at = now(),
               train_start = EXCLUDED.train_start, train_end = EXCLUDED.train_end, data_hash = EXCLUDED.data_hash,
               metrics = EXCLUDED.metrics, artifact_path = EXCLUDED.artifact_path""",
        (version, site_id, model_name, Jsonb(params), train_start, train_end, data_hash, Jsonb(metrics_json(metrics)),
         str(artifact_path)),
    )


def list_models(conn: psycopg.Connection, site_id: str | None = None) -> list[dict[str, Any]]:
    """Registry rows (newest first per site, champion first), with the model age in hours."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT model_version, site_id, model_name, trained_at, train_start, train_end, data_hash, is_champion,
                      promoted_at, metrics, artifact_path, extract(epoch FROM now() - trained_at) / 3600.0 AS age_h
               FROM models WHERE %(site)s::text IS NULL OR site_id = %(site)s
               ORDER BY site_id, is_champion DESC, trained_at DESC, model_name""",
            {"site": site_id},
        ).fetchall()


def promote(conn: psycopg.Connection, site_id: str, version: str) -> None:
    """Make ``version`` the site's only champion. Does not commit; run it inside a transaction so that
    the partial unique index ``models_one_champion_per_site`` never sees two champions."""
    conn.execute("UPDATE models SET is_champion = false WHERE site_id = %s AND is_champion", (site_id,))
    conn.execute("UPDATE models SET is_champion = true, promoted_at = now() WHERE model_version = %s", (version,))


def current_champion(conn: psycopg.Connection, site_id: str) -> dict[str, Any] | None:
    """The site's champion registry row, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM models WHERE site_id = %s AND is_champion", (site_id,)).fetchone()


def champions(conn: psycopg.Connection, site_ids: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Champion registry rows of every site (or of ``site_ids`` only), ordered by site."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM models WHERE is_champion AND (%s OR site_id = ANY(%s)) ORDER BY site_id",
                           (site_ids is None, list(site_ids or []))).fetchall()


def _mean_skill(m: dict[str, Any]) -> float:
    vals = [m[b].get("skill") for b in HORIZON_BUCKETS if b in m and m[b].get("skill") is not None]
    return float(np.mean(vals)) if vals else -math.inf


def should_promote(candidate: dict[str, Any] | None, champion: dict[str, Any] | None) -> tuple[bool, str]:
    """Promotion rule on backtest metrics (``{bucket: {nrmse, skill, ...}}``).

    Promote when there is no champion; else when the candidate's day-ahead nRMSE is lower by at
    least ``PROMOTION_MARGIN_NRMSE``; else, at equal day-ahead nRMSE, when its mean skill over the
    horizon buckets is higher. A candidate without a day-ahead score is never promoted over a champion.
    """
    if candidate is None or DAY_AHEAD_BUCKET not in candidate:
        return (champion is None and candidate is not None), "candidate has no day-ahead score"
    if champion is None:
        return True, "no current champion"
    cand_da = candidate[DAY_AHEAD_BUCKET].get("nrmse")
    champ_da = (champion.get(DAY_AHEAD_BUCKET) or {}).get("nrmse")
    if champ_da is None or (isinstance(champ_da, float) and math.isnan(champ_da)):
        return True, "current champion has no day-ahead score"
    if cand_da is None:
        return False, "candidate has no day-ahead nRMSE"
    if cand_da < champ_da - PROMOTION_MARGIN_NRMSE:
        return True, f"day-ahead nRMSE {cand_da:.4f} < champion {champ_da:.4f}"
    if abs(cand_da - champ_da) <= PROMOTION_MARGIN_NRMSE and _mean_skill(candidate) > _mean_skill(champion):
        return True, "equal day-ahead nRMSE, higher mean skill"
    return False, f"day-ahead nRMSE {cand_da:.4f} does not beat champion {champ_da:.4f}"
