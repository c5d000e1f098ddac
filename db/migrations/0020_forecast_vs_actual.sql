-- Forecasting: measured site power as the training pipeline reads it, and every stored forecast
-- next to the actual it predicted (all issues, all model versions; bi.forecast_accuracy keeps
-- only the latest issue per target). Power kW; buckets are 15-min interval starts (UTC).

-- Site AC power per 15-min bucket: sum of the inverters' mean AC power. inverters_reporting
-- lets readers treat buckets where not every inverter reported as incomplete.
CREATE VIEW forecast_site_actual_15m AS
SELECT r.site_id, r.bucket,
       sum(r.ac_power_kw_avg) AS actual_kw,
       count(*) AS inverters_reporting,
       min(r.completeness) AS min_completeness
FROM readings_15m r
JOIN devices d ON d.device_id = r.device_id AND d.kind = 'inverter'
GROUP BY r.site_id, r.bucket;
COMMENT ON VIEW forecast_site_actual_15m IS
    'Site AC power (kW) per 15-min bucket from readings_15m (inverters only), with how many inverters reported.';

CREATE VIEW forecast_vs_actual AS
SELECT f.site_id, f.model_version, m.model_name, coalesce(m.is_champion, false) AS is_champion,
       f.issued_at, f.target_ts, f.horizon_min, f.p10_kw, f.p50_kw, f.p90_kw,
       a.actual_kw,
       f.p50_kw - a.actual_kw AS error_kw,
       (a.actual_kw BETWEEN f.p10_kw AND f.p90_kw) AS in_band
FROM forecasts f
LEFT JOIN models m ON m.model_version = f.model_version
LEFT JOIN forecast_site_actual_15m a ON a.site_id = f.site_id AND a.bucket = f.target_ts;
COMMENT ON VIEW forecast_vs_actual IS
    'Every stored forecast (P10/P50/P90 kW) with the measured site AC power of its target bucket (NULL until measured).';

CREATE INDEX models_site_trained_idx ON models (site_id, trained_at DESC);
