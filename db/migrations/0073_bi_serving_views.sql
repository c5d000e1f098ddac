-- The bi views read the serving layer (0071, 0072) instead of re-aggregating device rows on every
-- DirectQuery: site/fleet power from site_rollup_* / fleet_rollup_*, daily KPIs from the
-- materialised site_kpi_day / device_kpi_day. Same column names as before for the existing
-- views (the API and the TMDL bind to them); new views for the hourly/daily and fleet levels.
-- Units: power kW (mean over the bucket), energy kWh, irradiation kWh/m², ratios 0..1, UTC buckets;
-- KPI days are site-local days. Expected power: helios_expected_ac_power_kw (0070).
-- Coarser buckets (1 h, 1 day): ac_power_kw = energy-weighted mean over the whole bucket (a missing
-- 15-min bucket counts as 0 kW); poa_irradiation_kwh_m2 = mean inverter irradiation per 15 min ×
-- the 15-min slots of the bucket.

DROP VIEW bi.forecast_accuracy;
DROP VIEW bi.site_power_15m;
DROP VIEW bi.site_kpi_daily;
DROP VIEW bi.device_kpi_daily;

CREATE VIEW bi.site_power_15m AS
SELECT site_id, bucket, ac_power_kw, expected_ac_power_kw, energy_kwh,
       poa_w_m2_sum / nullif(poa_count, 0) AS poa_w_m2,
       poa_irradiation_kwh_m2_sum / nullif(poa_count, 0) AS poa_irradiation_kwh_m2,
       status_ok_count::double precision / nullif(sample_count, 0) AS availability,
       completeness_sum / nullif(device_buckets, 0) AS completeness,
       expected_energy_kwh,
       device_buckets AS inverters_reporting
FROM site_rollup_15m;
COMMENT ON VIEW bi.site_power_15m IS 'Site AC and expected power (kW), energy (kWh) per 15-min bucket (site_rollup_15m).';

CREATE VIEW bi.site_power_1h AS
SELECT site_id, bucket, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh,
       poa_irradiation_kwh_m2_sum / nullif(poa_count, 0) * 4 AS poa_irradiation_kwh_m2,
       status_ok_count::double precision / nullif(sample_count, 0) AS availability,
       completeness_sum / nullif(device_buckets, 0) AS completeness
FROM site_rollup_1h;
COMMENT ON VIEW bi.site_power_1h IS 'Site mean AC/expected power (kW) and energy (kWh) per UTC hour (site_rollup_1h).';

CREATE VIEW bi.site_power_1d AS
SELECT site_id, bucket, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh,
       poa_irradiation_kwh_m2_sum / nullif(poa_count, 0) * 96 AS poa_irradiation_kwh_m2,
       status_ok_count::double precision / nullif(sample_count, 0) AS availability,
       completeness_sum / nullif(device_buckets, 0) AS completeness
FROM site_rollup_1d;
COMMENT ON VIEW bi.site_power_1d IS 'Site mean AC/expected power (kW) and energy (kWh) per UTC day (site_rollup_1d).';

CREATE VIEW bi.fleet_power_15m AS
SELECT bucket, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh,
       status_ok_count::double precision / nullif(sample_count, 0) AS availability,
       completeness_sum / nullif(device_buckets, 0) AS completeness,
       device_buckets AS inverters_reporting
FROM fleet_rollup_15m;
COMMENT ON VIEW bi.fleet_power_15m IS 'Fleet AC and expected power (kW), energy (kWh) per 15-min bucket (fleet_rollup_15m).';

CREATE VIEW bi.fleet_power_1h AS
SELECT bucket, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh,
       status_ok_count::double precision / nullif(sample_count, 0) AS availability,
       completeness_sum / nullif(device_buckets, 0) AS completeness
FROM fleet_rollup_1h;
COMMENT ON VIEW bi.fleet_power_1h IS 'Fleet mean AC/expected power (kW) and energy (kWh) per UTC hour.';

CREATE VIEW bi.fleet_power_1d AS
SELECT bucket, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh,
       status_ok_count::double precision / nullif(sample_count, 0) AS availability,
       completeness_sum / nullif(device_buckets, 0) AS completeness
FROM fleet_rollup_1d;
COMMENT ON VIEW bi.fleet_power_1d IS 'Fleet mean AC/expected power (kW) and energy (kWh) per UTC day.';

-- Same columns as 0042 (maintenance KPI definitions, site-local days), read from site_kpi_day.
CREATE VIEW bi.site_kpi_daily AS
SELECT k.site_id,
       k.day,
       k.inverters,
       k.dc_capacity_kw,
       k.energy_kwh,
       k.reference_energy_kwh,
       k.energy_kwh / nullif(k.dc_capacity_kw, 0) AS specific_yield_kwh_kwp,
       k.energy_kwh / nullif(k.reference_energy_kwh, 0) AS performance_ratio,
       k.energy_kwh / nullif(k.expected_dc_energy_kwh, 0) AS performance_ratio_temp_corr,
       k.producing_buckets::double precision / nullif(k.daylight_buckets, 0) AS availability,
       k.expected_energy_kwh,
       k.lost_energy_kwh,
       k.energy_kwh * coalesce(s.tariff_per_kwh, 0) AS revenue,
       k.lost_energy_kwh * coalesce(s.tariff_per_kwh, 0) AS revenue_lost,
       k.daylight_buckets,
       k.producing_buckets
FROM site_kpi_day k
JOIN sites s ON s.site_id = k.site_id;
COMMENT ON VIEW bi.site_kpi_daily IS 'Daily KPIs per site and site-local day (materialised site_kpi_day + tariff).';

CREATE VIEW bi.device_kpi_daily AS
SELECT site_id, device_id, day, dc_capacity_kw, energy_kwh,
       energy_kwh / nullif(dc_capacity_kw, 0) AS specific_yield_kwh_kwp,
       energy_kwh / nullif(dc_capacity_kw, 0) / nullif(reference_yield_h, 0) AS performance_ratio,
       energy_kwh / nullif(expected_dc_energy_kwh, 0) AS performance_ratio_temp_corr,
       producing_buckets::double precision / nullif(daylight_buckets, 0) AS availability,
       expected_energy_kwh, lost_energy_kwh
FROM device_kpi_day;
COMMENT ON VIEW bi.device_kpi_daily IS 'Daily KPIs per inverter and site-local day (materialised device_kpi_day).';

-- Unchanged definition (0040); recreated because it reads bi.site_power_15m.
CREATE VIEW bi.forecast_accuracy AS
WITH f AS (
    SELECT DISTINCT ON (site_id, target_ts)
           site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw
    FROM forecasts
    WHERE issued_at <= target_ts
    ORDER BY site_id, target_ts, issued_at DESC, model_version
)
SELECT f.site_id, f.target_ts, f.issued_at, f.model_version, f.horizon_min,
       f.p10_kw, f.p50_kw, f.p90_kw,
       a.ac_power_kw AS actual_kw,
       f.p50_kw - a.ac_power_kw AS error_kw,
       abs(f.p50_kw - a.ac_power_kw) AS abs_error_kw,
       (a.ac_power_kw BETWEEN f.p10_kw AND f.p90_kw) AS in_band
FROM f JOIN bi.site_power_15m a ON a.site_id = f.site_id AND a.bucket = f.target_ts;

-- bi.site_freshness: 0055 already reads one row per site (newest reading by ts); kept as is.

-- Report filters: alerts by site and time, quality results by time.
CREATE INDEX IF NOT EXISTS alerts_site_started_idx ON alerts (site_id, started_at DESC);
CREATE INDEX IF NOT EXISTS dq_results_checked_idx ON dq_results (checked_at DESC, check_name);
-- Forecast visuals filter on a target-time range across all sites (fleet band, accuracy by horizon).
CREATE INDEX IF NOT EXISTS forecasts_target_site_idx ON forecasts (target_ts, site_id, issued_at DESC);

GRANT SELECT ON bi.site_power_15m, bi.site_power_1h, bi.site_power_1d, bi.fleet_power_15m, bi.fleet_power_1h,
    bi.fleet_power_1d, bi.site_kpi_daily, bi.device_kpi_daily, bi.forecast_accuracy TO helios_bi_reader;
