-- helios:no-transaction
-- Backend: TimescaleDB. Site- and fleet-level rollups as hierarchical continuous aggregates on
-- the device aggregate readings_15m (joined with devices for capacities and the inverter
-- filter), 15 min, 1 h and 1 day (UTC). TimescaleDB 2.25 refuses a continuous aggregate on a
-- continuous aggregate whose definition has a JOIN ("time bucket function must reference the
-- primary hypertable dimension column"), so the 1-h/1-day and fleet levels cannot stack on
-- site_rollup_15m; they read readings_15m directly — which also keeps expected power exact
-- (computed from 15-min means at every level). Real-time aggregation on, like the device
-- aggregates. Columns:
--   device_buckets            inverter 15-min buckets aggregated
--   sample_count, status_ok_count      raw samples / samples with inverter_status 'ok'
--   ac_power_kw               mean AC power over the bucket (kW): Σ of the inverters' 15-min mean
--                             power × 0.25 h / bucket length (a missing 15-min bucket counts as 0)
--   expected_ac_power_kw      same for expected power, helios_expected_ac_power_kw (0070) applied
--                             to each inverter's 15-min means, so every level sums the same terms
--   energy_kwh, expected_energy_kwh, reference_energy_kwh (Σ Pdc0 · POA · 0.25 h / 1000)   kWh
--   poa_w_m2_sum / poa_count, poa_irradiation_kwh_m2_sum, completeness_sum: for means
-- Device metadata (capacities, kind) is read when a bucket is materialised: a metadata change
-- applies to buckets refreshed after it (refresh the range explicitly to restate history).

CREATE MATERIALIZED VIEW site_rollup_15m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT r.site_id, time_bucket(INTERVAL '15 minutes', r.bucket) AS bucket,
    count(*) AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw_avg) * 0.25 / 0.25 AS ac_power_kw,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 / 0.25 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 AS expected_energy_kwh,
    sum(d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0) AS reference_energy_kwh,
    sum(r.poa_w_m2_avg) AS poa_w_m2_sum,
    count(r.poa_w_m2_avg) AS poa_count,
    sum(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness) AS completeness_sum
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id
WHERE d.kind = 'inverter'
GROUP BY r.site_id, time_bucket(INTERVAL '15 minutes', r.bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW site_rollup_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT r.site_id, time_bucket(INTERVAL '1 hour', r.bucket) AS bucket,
    count(*) AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw_avg) * 0.25 / 1.0 AS ac_power_kw,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 / 1.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 AS expected_energy_kwh,
    sum(d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0) AS reference_energy_kwh,
    sum(r.poa_w_m2_avg) AS poa_w_m2_sum,
    count(r.poa_w_m2_avg) AS poa_count,
    sum(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness) AS completeness_sum
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id
WHERE d.kind = 'inverter'
GROUP BY r.site_id, time_bucket(INTERVAL '1 hour', r.bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW site_rollup_1d
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT r.site_id, time_bucket(INTERVAL '1 day', r.bucket) AS bucket,
    count(*) AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw_avg) * 0.25 / 24.0 AS ac_power_kw,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 / 24.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 AS expected_energy_kwh,
    sum(d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0) AS reference_energy_kwh,
    sum(r.poa_w_m2_avg) AS poa_w_m2_sum,
    count(r.poa_w_m2_avg) AS poa_count,
    sum(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness) AS completeness_sum
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id
WHERE d.kind = 'inverter'
GROUP BY r.site_id, time_bucket(INTERVAL '1 day', r.bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW fleet_rollup_15m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '15 minutes', r.bucket) AS bucket,
    count(*) AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw_avg) * 0.25 / 0.25 AS ac_power_kw,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 / 0.25 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 AS expected_energy_kwh,
    sum(d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0) AS reference_energy_kwh,
    sum(r.poa_w_m2_avg) AS poa_w_m2_sum,
    count(r.poa_w_m2_avg) AS poa_count,
    sum(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness) AS completeness_sum
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id
WHERE d.kind = 'inverter'
GROUP BY time_bucket(INTERVAL '15 minutes', r.bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW fleet_rollup_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', r.bucket) AS bucket,
    count(*) AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw_avg) * 0.25 / 1.0 AS ac_power_kw,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 / 1.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 AS expected_energy_kwh,
    sum(d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0) AS reference_energy_kwh,
    sum(r.poa_w_m2_avg) AS poa_w_m2_sum,
    count(r.poa_w_m2_avg) AS poa_count,
    sum(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness) AS completeness_sum
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id
WHERE d.kind = 'inverter'
GROUP BY time_bucket(INTERVAL '1 hour', r.bucket)
WITH NO DATA;

CREATE MATERIALIZED VIEW fleet_rollup_1d
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 day', r.bucket) AS bucket,
    count(*) AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw_avg) * 0.25 / 24.0 AS ac_power_kw,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 / 24.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                    d.gamma_pdc_per_c, d.inverter_efficiency)) * 0.25 AS expected_energy_kwh,
    sum(d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0) AS reference_energy_kwh,
    sum(r.poa_w_m2_avg) AS poa_w_m2_sum,
    count(r.poa_w_m2_avg) AS poa_count,
    sum(r.poa_irradiation_kwh_m2) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness) AS completeness_sum
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id
WHERE d.kind = 'inverter'
GROUP BY time_bucket(INTERVAL '1 day', r.bucket)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('site_rollup_15m', start_offset => INTERVAL '7 days',
    end_offset => INTERVAL '15 minutes', schedule_interval => INTERVAL '5 minutes');

SELECT add_continuous_aggregate_policy('site_rollup_1h', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');

SELECT add_continuous_aggregate_policy('site_rollup_1d', start_offset => INTERVAL '35 days',
    end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour');

SELECT add_continuous_aggregate_policy('fleet_rollup_15m', start_offset => INTERVAL '7 days',
    end_offset => INTERVAL '15 minutes', schedule_interval => INTERVAL '5 minutes');

SELECT add_continuous_aggregate_policy('fleet_rollup_1h', start_offset => INTERVAL '8 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');

SELECT add_continuous_aggregate_policy('fleet_rollup_1d', start_offset => INTERVAL '35 days',
    end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour');

-- Site-local KPI days (0071): re-list and recompute the days of the last 8 days every 15 minutes
-- (the readings_15m refresh window is 7 days; late data older than that is refreshed explicitly,
-- as for the device aggregates: heliosgrid.db.serving.refresh_serving_layer(start=...)).
CREATE PROCEDURE helios_kpi_days_job(job_id integer, config jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM helios_invalidate_kpi_days(now() - coalesce((config ->> 'start_offset')::interval, INTERVAL '8 days'), now());
    PERFORM helios_refresh_kpi_days();
END $$;
SELECT add_job('helios_kpi_days_job', INTERVAL '15 minutes', config => '{"start_offset": "8 days"}');
