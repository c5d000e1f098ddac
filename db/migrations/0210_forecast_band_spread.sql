-- The spread (standard deviation, kW) of the per-horizon champion's members' P50 at each target: the scale
-- of the members'-spread band (ADR 0510, heliosgrid/forecast/bandsource.py). Kept with the forecast so the
-- online band update (heliosgrid/forecast/online.py) can replay matured forecasts with the width they were
-- issued with. NULL for forecasts of single-model champions and for rows stored before this migration.
ALTER TABLE forecasts ADD COLUMN band_spread_kw double precision;
COMMENT ON COLUMN forecasts.band_spread_kw IS
    'Standard deviation (kW) of the champion''s member forecasts (P50) at this target; NULL when unknown.';

CREATE OR REPLACE VIEW forecast_vs_actual AS
SELECT f.site_id, f.model_version, m.model_name, coalesce(m.is_champion, false) AS is_champion,
       f.issued_at, f.target_ts, f.horizon_min, f.p10_kw, f.p50_kw, f.p90_kw,
       a.actual_kw,
       f.p50_kw - a.actual_kw AS error_kw,
       (a.actual_kw BETWEEN f.p10_kw AND f.p90_kw) AS in_band,
       f.band_spread_kw
FROM forecasts f
LEFT JOIN models m ON m.model_version = f.model_version
LEFT JOIN forecast_site_actual_15m a ON a.site_id = f.site_id AND a.bucket = f.target_ts;
