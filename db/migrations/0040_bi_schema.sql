-- Power BI / analytics semantic layer: the `bi` schema of read-only views over the rollups,
-- forecasts, alerts and data-quality results, plus the read-only group role Power BI uses.
-- The same views back the API's KPI, overview and forecast-accuracy endpoints, so the
-- dashboard, the API and Power BI report the same numbers.
--
-- Units: power kW, energy kWh, irradiance W/m², irradiation kWh/m², ratios 0..1, times UTC.
-- Works on both backends: readings_15m/1h/1d are TimescaleDB continuous aggregates or plain
-- rollup tables with identical columns.
--
-- Expected power (PVWatts-style, per inverter, from its own measured plane-of-array irradiance
-- and module temperature, module temperature standing in for cell temperature):
--   expected_ac_kw = min(ac_capacity_kw, dc_capacity_kw · poa/1000 · (1 + γ·(T_mod − 25)) · η_inv)
-- Performance ratio (IEC 61724 basic, not temperature corrected):
--   PR = energy_kwh / (dc_capacity_kw · poa_irradiation_kwh_m2 / 1 kW/m²)
-- Availability = share of samples with inverter_status = 'ok' among the samples received.

CREATE SCHEMA IF NOT EXISTS bi;
COMMENT ON SCHEMA bi IS 'Read-only analytics views for Power BI (DirectQuery) and the API.';

CREATE VIEW bi.site AS
SELECT site_id, name AS site_name, latitude_deg, longitude_deg, altitude_m, timezone,
       dc_capacity_kw, ac_capacity_kw, tariff_per_kwh
FROM sites;

CREATE VIEW bi.device AS
SELECT device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw, ac_capacity_kw
FROM devices;

CREATE VIEW bi.device_power_15m AS
SELECT r.device_id, r.site_id, r.bucket,
       r.ac_power_kw_avg, r.dc_power_kw_avg, r.energy_kwh, r.poa_w_m2_avg, r.poa_irradiation_kwh_m2,
       r.module_temp_c_avg, r.completeness, r.sample_count, r.status_ok_count,
       CASE WHEN d.kind = 'inverter' AND r.poa_w_m2_avg IS NOT NULL THEN
           least(d.ac_capacity_kw,
                 greatest(0.0, d.dc_capacity_kw * r.poa_w_m2_avg / 1000.0
                          * (1.0 + d.gamma_pdc_per_c * (coalesce(r.module_temp_c_avg, 25.0) - 25.0))
                          * d.inverter_efficiency))
       END AS expected_ac_power_kw
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id;

CREATE VIEW bi.site_power_15m AS
SELECT p.site_id, p.bucket,
       sum(p.ac_power_kw_avg) AS ac_power_kw,
       sum(p.expected_ac_power_kw) AS expected_ac_power_kw,
       sum(p.energy_kwh) AS energy_kwh,
       avg(p.poa_w_m2_avg) AS poa_w_m2,
       avg(p.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2,
       (sum(p.status_ok_count)::double precision / nullif(sum(p.sample_count), 0)) AS availability,
       avg(p.completeness) AS completeness
FROM bi.device_power_15m p JOIN devices d ON d.device_id = p.device_id AND d.kind = 'inverter'
GROUP BY p.site_id, p.bucket;

CREATE VIEW bi.site_kpi_daily AS
SELECT r.site_id, r.bucket AS day,
       sum(r.energy_kwh) FILTER (WHERE d.kind = 'inverter') AS energy_kwh,
       avg(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2,
       s.dc_capacity_kw,
       sum(r.energy_kwh) FILTER (WHERE d.kind = 'inverter')
           / nullif(s.dc_capacity_kw * avg(r.poa_irradiation_kwh_m2), 0) AS performance_ratio,
       (sum(r.status_ok_count) FILTER (WHERE d.kind = 'inverter'))::double precision
           / nullif(sum(r.sample_count) FILTER (WHERE d.kind = 'inverter'), 0) AS availability,
       avg(r.completeness) AS completeness,
       sum(r.energy_kwh) FILTER (WHERE d.kind = 'inverter') * coalesce(s.tariff_per_kwh, 0) AS revenue
FROM readings_1d r
JOIN devices d ON d.device_id = r.device_id
JOIN sites s ON s.site_id = r.site_id
GROUP BY r.site_id, r.bucket, s.dc_capacity_kw, s.tariff_per_kwh;

CREATE VIEW bi.forecast AS
SELECT site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw
FROM forecasts;

-- The most recent forecast for each (site, target time), whatever its issue time.
CREATE VIEW bi.forecast_latest AS
SELECT DISTINCT ON (site_id, target_ts)
       site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw
FROM forecasts
ORDER BY site_id, target_ts, issued_at DESC, model_version;

-- Forecast vs actual: for each (site, target) the latest forecast issued no later than the
-- target time, joined with the measured site AC power of that 15-minute bucket.
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

CREATE VIEW bi.alert AS
SELECT alert_id, site_id, device_id, source, fault_type, severity, state, started_at, last_seen_at,
       ended_at, title, energy_lost_kwh, revenue_lost, currency, recommended_action,
       acknowledged_by, acknowledged_at, resolved_by, resolved_at, updated_at
FROM alerts;

CREATE VIEW bi.dq_result AS
SELECT check_name, site_id, device_id, window_start, window_end, passed, measured_value, threshold, checked_at
FROM dq_results;

-- Data freshness per site: newest measurement time and newest ingestion time.
CREATE VIEW bi.site_freshness AS
SELECT s.site_id,
       (SELECT max(r.ts) FROM readings r WHERE r.site_id = s.site_id) AS last_reading_ts,
       (SELECT max(r.ingested_at) FROM readings r WHERE r.site_id = s.site_id) AS last_ingested_at
FROM sites s;

-- Read-only group role for Power BI: SELECT on the bi views only (no LOGIN; create a login
-- role that is a member of it, see powerbi/README.md). Roles are cluster-wide, so creation
-- tolerates a role made by another database on the same server.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'helios_bi_reader') THEN
        CREATE ROLE helios_bi_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

GRANT USAGE ON SCHEMA bi TO helios_bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA bi TO helios_bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA bi GRANT SELECT ON TABLES TO helios_bi_reader;
