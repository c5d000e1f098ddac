-- bi.forecast_accuracy, same columns and rows as 0040/0073, written so that a filter on
-- target_ts (every accuracy visual has one) reaches the indexes: for each measured site bucket,
-- the latest forecast issued no later than its target is one index probe on
-- forecasts (site_id, target_ts, issued_at DESC). The DISTINCT ON form ranked every stored
-- forecast of every site before the filter applied (2 s for 30 days of a 20-site fleet).
CREATE OR REPLACE VIEW bi.forecast_accuracy AS
SELECT a.site_id, a.bucket AS target_ts, f.issued_at, f.model_version, f.horizon_min,
       f.p10_kw, f.p50_kw, f.p90_kw,
       a.ac_power_kw AS actual_kw,
       f.p50_kw - a.ac_power_kw AS error_kw,
       abs(f.p50_kw - a.ac_power_kw) AS abs_error_kw,
       (a.ac_power_kw BETWEEN f.p10_kw AND f.p90_kw) AS in_band
FROM site_rollup_15m a
CROSS JOIN LATERAL (
    SELECT fc.issued_at, fc.model_version, fc.horizon_min, fc.p10_kw, fc.p50_kw, fc.p90_kw
    FROM forecasts fc
    WHERE fc.site_id = a.site_id AND fc.target_ts = a.bucket AND fc.issued_at <= fc.target_ts
    ORDER BY fc.issued_at DESC, fc.model_version
    LIMIT 1) f;
