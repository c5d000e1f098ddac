-- forecast_vs_actual carries the point forecast (issue 15, ADR 0580). Same statement on both backends.
--
-- The view is the one definition of "a stored forecast next to the actual it predicted" (0020). The
-- production band replay (heliosgrid.forecast.online) scores the point forecast each band was centred
-- on; point_kw is appended (NULL for rows stored before migration 0220, whose P50 was the point
-- forecast). error_kw stays P50 − actual.

CREATE OR REPLACE VIEW forecast_vs_actual AS
SELECT f.site_id, f.model_version, m.model_name, coalesce(m.is_champion, false) AS is_champion,
       f.issued_at, f.target_ts, f.horizon_min, f.p10_kw, f.p50_kw, f.p90_kw,
       a.actual_kw,
       f.p50_kw - a.actual_kw AS error_kw,
       (a.actual_kw BETWEEN f.p10_kw AND f.p90_kw) AS in_band,
       f.point_kw
FROM forecasts f
LEFT JOIN models m ON m.model_version = f.model_version
LEFT JOIN forecast_site_actual_15m a ON a.site_id = f.site_id AND a.bucket = f.target_ts;
COMMENT ON VIEW forecast_vs_actual IS
    'Every stored forecast (P10/P50/P90 and point forecast, kW) with the measured site AC power of its target bucket (NULL until measured).';
