-- helios:no-transaction
-- Rollups per device: 15 minutes from raw, 1 hour from 15 minutes, 1 day (UTC) from 1 hour.
-- Every measure has avg/min/max; energy_kwh = mean AC power x bucket length (a bucket with
-- missing samples is assumed to have run at its mean); completeness = samples / nominal
-- samples at the contract cadence of 60 s; status_ok_count counts inverter_status = 'ok'.
-- Hourly and daily means are sample-weighted means of the finer buckets.
-- Backend: TimescaleDB hierarchical continuous aggregates with real-time aggregation.

CREATE MATERIALIZED VIEW readings_15m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    device_id,
    site_id,
    time_bucket(INTERVAL '15 minutes', ts) AS bucket,
    count(*) AS sample_count,
    least(1.0, count(*) / 15.0)::double precision AS completeness,
    avg(ghi_w_m2) AS ghi_w_m2_avg,
    min(ghi_w_m2) AS ghi_w_m2_min,
    max(ghi_w_m2) AS ghi_w_m2_max,
    avg(poa_w_m2) AS poa_w_m2_avg,
    min(poa_w_m2) AS poa_w_m2_min,
    max(poa_w_m2) AS poa_w_m2_max,
    avg(ambient_temp_c) AS ambient_temp_c_avg,
    min(ambient_temp_c) AS ambient_temp_c_min,
    max(ambient_temp_c) AS ambient_temp_c_max,
    avg(module_temp_c) AS module_temp_c_avg,
    min(module_temp_c) AS module_temp_c_min,
    max(module_temp_c) AS module_temp_c_max,
    avg(dc_power_kw) AS dc_power_kw_avg,
    min(dc_power_kw) AS dc_power_kw_min,
    max(dc_power_kw) AS dc_power_kw_max,
    avg(ac_power_kw) AS ac_power_kw_avg,
    min(ac_power_kw) AS ac_power_kw_min,
    max(ac_power_kw) AS ac_power_kw_max,
    avg(ac_power_kw) * 0.25 AS energy_kwh,
    avg(poa_w_m2) * 0.25 / 1000.0 AS poa_irradiation_kwh_m2,
    count(*) FILTER (WHERE inverter_status = 'ok') AS status_ok_count
FROM readings
GROUP BY device_id, site_id, time_bucket(INTERVAL '15 minutes', ts)
WITH NO DATA;

CREATE MATERIALIZED VIEW readings_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    device_id,
    site_id,
    time_bucket(INTERVAL '1 hour', bucket) AS bucket,
    sum(sample_count)::bigint AS sample_count,
    least(1.0, sum(sample_count) / 60.0)::double precision AS completeness,
    sum(ghi_w_m2_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE ghi_w_m2_avg IS NOT NULL), 0) AS ghi_w_m2_avg,
    min(ghi_w_m2_min) AS ghi_w_m2_min,
    max(ghi_w_m2_max) AS ghi_w_m2_max,
    sum(poa_w_m2_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE poa_w_m2_avg IS NOT NULL), 0) AS poa_w_m2_avg,
    min(poa_w_m2_min) AS poa_w_m2_min,
    max(poa_w_m2_max) AS poa_w_m2_max,
    sum(ambient_temp_c_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE ambient_temp_c_avg IS NOT NULL), 0) AS ambient_temp_c_avg,
    min(ambient_temp_c_min) AS ambient_temp_c_min,
    max(ambient_temp_c_max) AS ambient_temp_c_max,
    sum(module_temp_c_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE module_temp_c_avg IS NOT NULL), 0) AS module_temp_c_avg,
    min(module_temp_c_min) AS module_temp_c_min,
    max(module_temp_c_max) AS module_temp_c_max,
    sum(dc_power_kw_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE dc_power_kw_avg IS NOT NULL), 0) AS dc_power_kw_avg,
    min(dc_power_kw_min) AS dc_power_kw_min,
    max(dc_power_kw_max) AS dc_power_kw_max,
    sum(ac_power_kw_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE ac_power_kw_avg IS NOT NULL), 0) AS ac_power_kw_avg,
    min(ac_power_kw_min) AS ac_power_kw_min,
    max(ac_power_kw_max) AS ac_power_kw_max,
    sum(energy_kwh) AS energy_kwh,
    sum(poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2,
    sum(status_ok_count) AS status_ok_count
FROM readings_15m
GROUP BY device_id, site_id, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW readings_1d
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    device_id,
    site_id,
    time_bucket(INTERVAL '1 day', bucket) AS bucket,
    sum(sample_count)::bigint AS sample_count,
    least(1.0, sum(sample_count) / 1440.0)::double precision AS completeness,
    sum(ghi_w_m2_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE ghi_w_m2_avg IS NOT NULL), 0) AS ghi_w_m2_avg,
    min(ghi_w_m2_min) AS ghi_w_m2_min,
    max(ghi_w_m2_max) AS ghi_w_m2_max,
    sum(poa_w_m2_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE poa_w_m2_avg IS NOT NULL), 0) AS poa_w_m2_avg,
    min(poa_w_m2_min) AS poa_w_m2_min,
    max(poa_w_m2_max) AS poa_w_m2_max,
    sum(ambient_temp_c_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE ambient_temp_c_avg IS NOT NULL), 0) AS ambient_temp_c_avg,
    min(ambient_temp_c_min) AS ambient_temp_c_min,
    max(ambient_temp_c_max) AS ambient_temp_c_max,
    sum(module_temp_c_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE module_temp_c_avg IS NOT NULL), 0) AS module_temp_c_avg,
    min(module_temp_c_min) AS module_temp_c_min,
    max(module_temp_c_max) AS module_temp_c_max,
    sum(dc_power_kw_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE dc_power_kw_avg IS NOT NULL), 0) AS dc_power_kw_avg,
    min(dc_power_kw_min) AS dc_power_kw_min,
    max(dc_power_kw_max) AS dc_power_kw_max,
    sum(ac_power_kw_avg * sample_count) / nullif(sum(sample_count) FILTER (WHERE ac_power_kw_avg IS NOT NULL), 0) AS ac_power_kw_avg,
    min(ac_power_kw_min) AS ac_power_kw_min,
    max(ac_power_kw_max) AS ac_power_kw_max,
    sum(energy_kwh) AS energy_kwh,
    sum(poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2,
    sum(status_ok_count) AS status_ok_count
FROM readings_1h
GROUP BY device_id, site_id, time_bucket(INTERVAL '1 day', bucket)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('readings_15m', start_offset => INTERVAL '7 days',
    end_offset => INTERVAL '15 minutes', schedule_interval => INTERVAL '5 minutes');
SELECT add_continuous_aggregate_policy('readings_1h', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('readings_1d', start_offset => INTERVAL '35 days',
    end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour');
