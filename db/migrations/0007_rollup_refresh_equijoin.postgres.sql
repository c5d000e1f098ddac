-- Backend: plain PostgreSQL. Faster helios_refresh_rollups(): the first version (0004) joined the
-- work lists to the source rows on device and a time RANGE only, which the planner turns into a
-- hash join on device_id with a range filter — quadratic in the number of dirty buckets of a
-- device (a 7-day back-fill of 10 devices took ~15 s). Joining also on the bucket EQUALITY
-- (time_bucket(source time) = dirty bucket) makes it a hash join on (device, bucket), linear;
-- the range conditions stay for partition pruning and index range scans on small refreshes.
-- The work lists are ANALYZEd so the planner knows their size. Results are unchanged (same
-- expressions as 0004 and the TimescaleDB continuous aggregates).
CREATE OR REPLACE FUNCTION helios_refresh_rollups() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n_15m  integer;
    lo     timestamptz;
    hi     timestamptz;
    lo_1h  timestamptz;
    hi_1h  timestamptz;
    lo_1d  timestamptz;
    hi_1d  timestamptz;
BEGIN
    -- One refresher at a time; concurrent callers wait, then find little or nothing to do.
    PERFORM pg_advisory_xact_lock(hashtext('helios_refresh_rollups'));

    CREATE TEMP TABLE IF NOT EXISTS _dirty_15m (device_id text, bucket timestamptz) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS _dirty_1h (device_id text, bucket timestamptz) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS _dirty_1d (device_id text, bucket timestamptz) ON COMMIT DROP;
    TRUNCATE _dirty_15m, _dirty_1h, _dirty_1d;

    WITH claimed AS (DELETE FROM rollup_invalidations RETURNING device_id, bucket)
    INSERT INTO _dirty_15m SELECT DISTINCT device_id, bucket FROM claimed;
    GET DIAGNOSTICS n_15m = ROW_COUNT;
    IF n_15m = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO _dirty_1h SELECT DISTINCT device_id, time_bucket(INTERVAL '1 hour', bucket) FROM _dirty_15m;
    INSERT INTO _dirty_1d SELECT DISTINCT device_id, time_bucket(INTERVAL '1 day', bucket) FROM _dirty_1h;

    -- fresh statistics on the work lists, so the planner sizes the joins right
    ANALYZE _dirty_15m;
    ANALYZE _dirty_1h;
    ANALYZE _dirty_1d;

    SELECT min(bucket), max(bucket) INTO lo, hi FROM _dirty_15m;
    SELECT min(bucket), max(bucket) INTO lo_1h, hi_1h FROM _dirty_1h;
    SELECT min(bucket), max(bucket) INTO lo_1d, hi_1d FROM _dirty_1d;
    PERFORM helios_ensure_partitions('readings_15m', lo, hi);
    PERFORM helios_ensure_partitions('readings_1h', lo, hi);
    PERFORM helios_ensure_partitions('readings_1d', lo, hi);

    -- 15 minutes from raw
    DELETE FROM readings_15m t USING _dirty_15m d WHERE t.device_id = d.device_id AND t.bucket = d.bucket;
    INSERT INTO readings_15m (device_id, site_id, bucket, sample_count, completeness, ghi_w_m2_avg, ghi_w_m2_min, ghi_w_m2_max, poa_w_m2_avg, poa_w_m2_min, poa_w_m2_max, ambient_temp_c_avg, ambient_temp_c_min, ambient_temp_c_max, module_temp_c_avg, module_temp_c_min, module_temp_c_max, dc_power_kw_avg, dc_power_kw_min, dc_power_kw_max, ac_power_kw_avg, ac_power_kw_min, ac_power_kw_max, energy_kwh, poa_irradiation_kwh_m2, status_ok_count)
SELECT
    r.device_id,
    r.site_id,
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
FROM readings r JOIN _dirty_15m d
  ON r.device_id = d.device_id AND time_bucket(INTERVAL '15 minutes', r.ts) = d.bucket
 AND r.ts >= d.bucket AND r.ts < d.bucket + INTERVAL '15 minutes'
WHERE r.ts >= lo AND r.ts < hi + INTERVAL '15 minutes'
GROUP BY r.device_id, r.site_id, time_bucket(INTERVAL '15 minutes', ts);

    -- 1 hour from 15 minutes
    DELETE FROM readings_1h t USING _dirty_1h d WHERE t.device_id = d.device_id AND t.bucket = d.bucket;
    INSERT INTO readings_1h (device_id, site_id, bucket, sample_count, completeness, ghi_w_m2_avg, ghi_w_m2_min, ghi_w_m2_max, poa_w_m2_avg, poa_w_m2_min, poa_w_m2_max, ambient_temp_c_avg, ambient_temp_c_min, ambient_temp_c_max, module_temp_c_avg, module_temp_c_min, module_temp_c_max, dc_power_kw_avg, dc_power_kw_min, dc_power_kw_max, ac_power_kw_avg, ac_power_kw_min, ac_power_kw_max, energy_kwh, poa_irradiation_kwh_m2, status_ok_count)
SELECT
    r.device_id,
    r.site_id,
    time_bucket(INTERVAL '1 hour', r.bucket) AS bucket,
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
FROM readings_15m r JOIN _dirty_1h d
  ON r.device_id = d.device_id AND time_bucket(INTERVAL '1 hour', r.bucket) = d.bucket
 AND r.bucket >= d.bucket AND r.bucket < d.bucket + INTERVAL '1 hour'
WHERE r.bucket >= lo_1h AND r.bucket < hi_1h + INTERVAL '1 hour'
GROUP BY r.device_id, r.site_id, time_bucket(INTERVAL '1 hour', r.bucket);

    -- 1 day from 1 hour
    DELETE FROM readings_1d t USING _dirty_1d d WHERE t.device_id = d.device_id AND t.bucket = d.bucket;
    INSERT INTO readings_1d (device_id, site_id, bucket, sample_count, completeness, ghi_w_m2_avg, ghi_w_m2_min, ghi_w_m2_max, poa_w_m2_avg, poa_w_m2_min, poa_w_m2_max, ambient_temp_c_avg, ambient_temp_c_min, ambient_temp_c_max, module_temp_c_avg, module_temp_c_min, module_temp_c_max, dc_power_kw_avg, dc_power_kw_min, dc_power_kw_max, ac_power_kw_avg, ac_power_kw_min, ac_power_kw_max, energy_kwh, poa_irradiation_kwh_m2, status_ok_count)
SELECT
    r.device_id,
    r.site_id,
    time_bucket(INTERVAL '1 day', r.bucket) AS bucket,
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
FROM readings_1h r JOIN _dirty_1d d
  ON r.device_id = d.device_id AND time_bucket(INTERVAL '1 day', r.bucket) = d.bucket
 AND r.bucket >= d.bucket AND r.bucket < d.bucket + INTERVAL '1 day'
WHERE r.bucket >= lo_1d AND r.bucket < hi_1d + INTERVAL '1 day'
GROUP BY r.device_id, r.site_id, time_bucket(INTERVAL '1 day', r.bucket);

    RETURN n_15m;
END $$;

