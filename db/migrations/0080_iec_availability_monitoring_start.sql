-- IEC 61724-1 time-based availability and KPI data-quality flags (one SQL definition, reused by
-- the maintenance KPI views and by the bi rollups), and each device's monitoring start.
--
-- Availability (IEC 61724-1, time-based): of the time with plane-of-array irradiance at or above
-- a threshold (50 W/m²), the share during which the inverter was able to produce. Per 15-minute
-- bucket, helios_iec_availability_state() says:
--   'unknown'         no readings (communication gap) or no irradiance: neither up nor down
--   'not_applicable'  irradiance below the threshold (night, dawn): not counted
--   'available'       AC power ≥ 1 % of the AC nameplate, or at least one 'ok' status sample
--                     (the inverter reports it is ready; snow or shade is not unavailability)
--   'unavailable'     otherwise (tripped, faulted, switched off with the sun up)
-- availability = available / (available + unavailable) buckets; NULL when there are none.
-- (Migration 0030 counted any AC > 0 as available: 0.1 kWh of trickle on a dead day read 47–59 %.)
--
-- Data quality: a KPI computed from implausible inputs is not reported as a number.
--   'poa_stuck'       ≥ 4 daylight buckets whose POA min = max over ≥ 3 samples (a flat-lined sensor;
--                     with fewer samples per bucket — 15-minute loggers — this cannot be seen here)
--   'pr_implausible'  performance ratio > 1.2 (irradiance under-read, wrong capacity or units)
-- performance_ratio and performance_ratio_temp_corr are NULL when data_quality <> 'ok'.

ALTER TABLE devices ADD COLUMN commissioned_at timestamptz;
COMMENT ON COLUMN devices.commissioned_at IS
    'Start of monitoring: no communication gap is reported before it (NULL: the first reading).';

CREATE FUNCTION helios_iec_availability_state(
    poa_w_m2 double precision,
    ac_power_kw double precision,
    sample_count double precision,
    status_ok_count double precision,
    ac_capacity_kw double precision,
    irradiance_threshold_w_m2 double precision DEFAULT 50,
    min_power_fraction double precision DEFAULT 0.01
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN coalesce(sample_count, 0) = 0 OR poa_w_m2 IS NULL THEN 'unknown'
        WHEN poa_w_m2 < irradiance_threshold_w_m2 THEN 'not_applicable'
        WHEN coalesce(ac_power_kw, 0) >= min_power_fraction * ac_capacity_kw OR coalesce(status_ok_count, 0) > 0
            THEN 'available'
        ELSE 'unavailable'
    END
$$;
COMMENT ON FUNCTION helios_iec_availability_state(double precision, double precision, double precision, double precision,
                                                   double precision, double precision, double precision) IS
    'IEC 61724-1 time-based availability state of one bucket: available | unavailable | not_applicable | unknown.';

CREATE OR REPLACE VIEW maintenance_kpi_bucket AS
SELECT
    r.site_id,
    r.device_id,
    r.bucket,
    (r.bucket AT TIME ZONE s.timezone)::date AS local_day,
    d.dc_capacity_kw,
    d.ac_capacity_kw,
    r.energy_kwh,
    r.poa_irradiation_kwh_m2,
    coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0 AS reference_yield_h,
    -- expected power: the one SQL definition (0070), in parity with heliosgrid.maintenance.expected
    helios_expected_dc_power_kw(coalesce(r.poa_w_m2_avg, 0), r.module_temp_c_avg, d.dc_capacity_kw, d.gamma_pdc_per_c)
        * 0.25 AS expected_dc_energy_kwh,
    helios_expected_ac_power_kw(coalesce(r.poa_w_m2_avg, 0), r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                d.gamma_pdc_per_c, d.inverter_efficiency) * 0.25 AS expected_ac_energy_kwh,
    a.state IN ('available', 'unavailable') AS daylight,
    a.state = 'available' AS producing,
    a.state AS availability_state,
    (coalesce(r.poa_w_m2_avg, 0) >= 50 AND r.sample_count >= 3 AND r.poa_w_m2_min = r.poa_w_m2_max) AS poa_flat
FROM readings_15m r
JOIN devices d ON d.device_id = r.device_id AND d.kind = 'inverter'
JOIN sites s ON s.site_id = r.site_id
CROSS JOIN LATERAL (
    SELECT helios_iec_availability_state(r.poa_w_m2_avg, r.ac_power_kw_avg, r.sample_count, r.status_ok_count,
                                         d.ac_capacity_kw) AS state
) a;

CREATE OR REPLACE VIEW maintenance_kpi_device_day AS
WITH day AS (
    SELECT
        site_id,
        device_id,
        local_day,
        max(dc_capacity_kw) AS dc_capacity_kw,
        count(*) AS buckets,
        coalesce(sum(energy_kwh), 0) AS energy_kwh,
        coalesce(sum(poa_irradiation_kwh_m2), 0) AS poa_irradiation_kwh_m2,
        sum(reference_yield_h) AS reference_yield_h,
        sum(expected_dc_energy_kwh) AS expected_dc_energy_kwh,
        count(*) FILTER (WHERE daylight) AS daylight_buckets,
        count(*) FILTER (WHERE producing) AS producing_buckets,
        count(*) FILTER (WHERE availability_state = 'unavailable') AS unavailable_buckets,
        count(*) FILTER (WHERE availability_state = 'unknown') AS unknown_buckets,
        count(*) FILTER (WHERE poa_flat) AS poa_flat_buckets,
        sum(expected_ac_energy_kwh) AS expected_energy_kwh
    FROM maintenance_kpi_bucket
    GROUP BY site_id, device_id, local_day
), rated AS (
    SELECT
        day.*,
        energy_kwh / nullif(dc_capacity_kw, 0) / nullif(reference_yield_h, 0) AS pr_raw,
        CASE
            WHEN poa_flat_buckets >= 4 THEN 'poa_stuck'
            WHEN energy_kwh / nullif(dc_capacity_kw, 0) / nullif(reference_yield_h, 0) > 1.2 THEN 'pr_implausible'
            ELSE 'ok'
        END AS data_quality
    FROM day
)
SELECT
    site_id,
    device_id,
    local_day,
    dc_capacity_kw,
    buckets,
    energy_kwh,
    poa_irradiation_kwh_m2,
    reference_yield_h,
    energy_kwh / nullif(dc_capacity_kw, 0) AS specific_yield_kwh_kwp,
    CASE WHEN data_quality = 'ok' THEN pr_raw END AS performance_ratio,
    CASE WHEN data_quality = 'ok' THEN energy_kwh / nullif(expected_dc_energy_kwh, 0) END AS performance_ratio_temp_corr,
    expected_dc_energy_kwh,
    daylight_buckets,
    producing_buckets,
    producing_buckets::double precision / nullif(daylight_buckets, 0) AS availability,
    expected_energy_kwh,
    greatest(0, expected_energy_kwh - energy_kwh) AS lost_energy_kwh,
    unavailable_buckets,
    unknown_buckets,
    data_quality
FROM rated;
COMMENT ON VIEW maintenance_kpi_device_day IS
    'Daily KPIs per inverter and site-local day; availability per IEC 61724-1 (migration 0080); PR NULL when data_quality <> ok.';

CREATE OR REPLACE VIEW maintenance_kpi_site_day AS
SELECT
    site_id,
    local_day,
    count(DISTINCT device_id) AS inverters,
    sum(dc_capacity_kw) AS dc_capacity_kw,
    sum(energy_kwh) AS energy_kwh,
    sum(energy_kwh) / nullif(sum(dc_capacity_kw), 0) AS specific_yield_kwh_kwp,
    CASE WHEN bool_and(data_quality = 'ok')
         THEN sum(energy_kwh) / nullif(sum(dc_capacity_kw * reference_yield_h), 0) END AS performance_ratio,
    CASE WHEN bool_and(data_quality = 'ok')
         THEN sum(energy_kwh) / nullif(sum(expected_dc_energy_kwh), 0) END AS performance_ratio_temp_corr,
    sum(producing_buckets)::double precision / nullif(sum(daylight_buckets), 0) AS availability,
    sum(expected_energy_kwh) AS expected_energy_kwh,
    sum(lost_energy_kwh) AS lost_energy_kwh,
    CASE WHEN bool_and(data_quality = 'ok') THEN 'ok'
         ELSE string_agg(DISTINCT data_quality, ',') FILTER (WHERE data_quality <> 'ok') END AS data_quality
FROM maintenance_kpi_device_day
GROUP BY site_id, local_day;
COMMENT ON VIEW maintenance_kpi_site_day IS
    'Daily KPIs per site and site-local day, capacity-weighted; PR NULL when any inverter''s inputs are implausible.';
