-- Backend: plain PostgreSQL. Site- and fleet-level rollups as tables with the same names and
-- columns as the TimescaleDB continuous aggregates of the .timescaledb variant (see there for the
-- column meanings). Refresh uses the device rollups' invalidation mechanism: statement triggers
-- on readings_15m log every (site, 15-min bucket) whose device rows helios_refresh_rollups()
-- deleted or inserted — whatever the age of the late or corrected data — and
-- helios_refresh_site_rollups() recomputes exactly those site buckets from the device rows, then
-- the hours, days and fleet buckets containing them from the site 15-min rows (the same sums as
-- the TimescaleDB aggregates, which must read readings_15m, with 10x fewer rows), then the
-- site-local KPI days (0071). helios_refresh_rollups()
-- becomes device refresh + site refresh, so every existing caller (writer, DAG, CLI) refreshes
-- the serving layer too. Small tables (one row per site per bucket): not partitioned, no
-- retention (a year of 15-min rows for 50 sites is 1.75 M rows).

CREATE TABLE site_rollup_15m (
    site_id text NOT NULL,
    bucket timestamptz NOT NULL,
    device_buckets bigint,
    sample_count bigint,
    status_ok_count bigint,
    ac_power_kw double precision,
    expected_ac_power_kw double precision,
    energy_kwh double precision,
    expected_energy_kwh double precision,
    reference_energy_kwh double precision,
    poa_w_m2_sum double precision,
    poa_count bigint,
    poa_irradiation_kwh_m2_sum double precision,
    completeness_sum double precision,
    PRIMARY KEY (site_id, bucket)
);

CREATE INDEX site_rollup_15m_bucket_idx ON site_rollup_15m (bucket);

CREATE TABLE site_rollup_1h (
    site_id text NOT NULL,
    bucket timestamptz NOT NULL,
    device_buckets bigint,
    sample_count bigint,
    status_ok_count bigint,
    ac_power_kw double precision,
    expected_ac_power_kw double precision,
    energy_kwh double precision,
    expected_energy_kwh double precision,
    reference_energy_kwh double precision,
    poa_w_m2_sum double precision,
    poa_count bigint,
    poa_irradiation_kwh_m2_sum double precision,
    completeness_sum double precision,
    PRIMARY KEY (site_id, bucket)
);

CREATE INDEX site_rollup_1h_bucket_idx ON site_rollup_1h (bucket);

CREATE TABLE site_rollup_1d (
    site_id text NOT NULL,
    bucket timestamptz NOT NULL,
    device_buckets bigint,
    sample_count bigint,
    status_ok_count bigint,
    ac_power_kw double precision,
    expected_ac_power_kw double precision,
    energy_kwh double precision,
    expected_energy_kwh double precision,
    reference_energy_kwh double precision,
    poa_w_m2_sum double precision,
    poa_count bigint,
    poa_irradiation_kwh_m2_sum double precision,
    completeness_sum double precision,
    PRIMARY KEY (site_id, bucket)
);

CREATE INDEX site_rollup_1d_bucket_idx ON site_rollup_1d (bucket);

CREATE TABLE fleet_rollup_15m (
    bucket timestamptz NOT NULL,
    device_buckets bigint,
    sample_count bigint,
    status_ok_count bigint,
    ac_power_kw double precision,
    expected_ac_power_kw double precision,
    energy_kwh double precision,
    expected_energy_kwh double precision,
    reference_energy_kwh double precision,
    poa_w_m2_sum double precision,
    poa_count bigint,
    poa_irradiation_kwh_m2_sum double precision,
    completeness_sum double precision,
    PRIMARY KEY (bucket)
);

CREATE TABLE fleet_rollup_1h (
    bucket timestamptz NOT NULL,
    device_buckets bigint,
    sample_count bigint,
    status_ok_count bigint,
    ac_power_kw double precision,
    expected_ac_power_kw double precision,
    energy_kwh double precision,
    expected_energy_kwh double precision,
    reference_energy_kwh double precision,
    poa_w_m2_sum double precision,
    poa_count bigint,
    poa_irradiation_kwh_m2_sum double precision,
    completeness_sum double precision,
    PRIMARY KEY (bucket)
);

CREATE TABLE fleet_rollup_1d (
    bucket timestamptz NOT NULL,
    device_buckets bigint,
    sample_count bigint,
    status_ok_count bigint,
    ac_power_kw double precision,
    expected_ac_power_kw double precision,
    energy_kwh double precision,
    expected_energy_kwh double precision,
    reference_energy_kwh double precision,
    poa_w_m2_sum double precision,
    poa_count bigint,
    poa_irradiation_kwh_m2_sum double precision,
    completeness_sum double precision,
    PRIMARY KEY (bucket)
);

CREATE TABLE site_rollup_invalidations (
    site_id    text NOT NULL,
    bucket     timestamptz NOT NULL
);

CREATE FUNCTION helios_log_site_invalidations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO site_rollup_invalidations (site_id, bucket) SELECT DISTINCT site_id, bucket FROM changed;
    RETURN NULL;
END $$;
CREATE TRIGGER readings_15m_site_inval_ins AFTER INSERT ON readings_15m
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_log_site_invalidations();
CREATE TRIGGER readings_15m_site_inval_del AFTER DELETE ON readings_15m
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_log_site_invalidations();
CREATE TRIGGER readings_15m_site_inval_upd AFTER UPDATE ON readings_15m
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_log_site_invalidations();

CREATE FUNCTION helios_refresh_site_rollups() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('helios_refresh_site_rollups'));
    CREATE TEMP TABLE IF NOT EXISTS _site_dirty_15m (site_id text, bucket timestamptz) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS _site_dirty_1h (site_id text, bucket timestamptz) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS _site_dirty_1d (site_id text, bucket timestamptz) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS _fleet_dirty_15m (bucket timestamptz) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS _fleet_dirty_1h (bucket timestamptz) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS _fleet_dirty_1d (bucket timestamptz) ON COMMIT DROP;
    TRUNCATE _site_dirty_15m, _site_dirty_1h, _site_dirty_1d, _fleet_dirty_15m, _fleet_dirty_1h, _fleet_dirty_1d;

    WITH claimed AS (DELETE FROM site_rollup_invalidations RETURNING site_id, bucket)
    INSERT INTO _site_dirty_15m SELECT DISTINCT site_id, bucket FROM claimed;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO _site_dirty_1h SELECT DISTINCT site_id, time_bucket(INTERVAL '1 hour', bucket) FROM _site_dirty_15m;
    INSERT INTO _site_dirty_1d SELECT DISTINCT site_id, time_bucket(INTERVAL '1 day', bucket) FROM _site_dirty_1h;
    INSERT INTO _fleet_dirty_15m SELECT DISTINCT bucket FROM _site_dirty_15m;
    INSERT INTO _fleet_dirty_1h SELECT DISTINCT bucket FROM _site_dirty_1h;
    INSERT INTO _fleet_dirty_1d SELECT DISTINCT bucket FROM _site_dirty_1d;
    ANALYZE _site_dirty_15m;
    ANALYZE _site_dirty_1h;
    ANALYZE _site_dirty_1d;
    ANALYZE _fleet_dirty_15m;
    ANALYZE _fleet_dirty_1h;
    ANALYZE _fleet_dirty_1d;

    DELETE FROM site_rollup_15m t USING _site_dirty_15m x WHERE t.site_id = x.site_id AND t.bucket = x.bucket;
    INSERT INTO site_rollup_15m (site_id, bucket, device_buckets, sample_count, status_ok_count, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh, reference_energy_kwh, poa_w_m2_sum, poa_count, poa_irradiation_kwh_m2_sum, completeness_sum)
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
JOIN _site_dirty_15m x ON r.site_id = x.site_id AND time_bucket(INTERVAL '15 minutes', r.bucket) = x.bucket
WHERE d.kind = 'inverter'
  AND r.bucket >= (SELECT min(bucket) FROM _site_dirty_15m) AND r.bucket < (SELECT max(bucket) FROM _site_dirty_15m) + INTERVAL '15 minutes'
GROUP BY r.site_id, time_bucket(INTERVAL '15 minutes', r.bucket);

    DELETE FROM site_rollup_1h t USING _site_dirty_1h x WHERE t.site_id = x.site_id AND t.bucket = x.bucket;
    INSERT INTO site_rollup_1h (site_id, bucket, device_buckets, sample_count, status_ok_count, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh, reference_energy_kwh, poa_w_m2_sum, poa_count, poa_irradiation_kwh_m2_sum, completeness_sum)
SELECT r.site_id, time_bucket(INTERVAL '1 hour', r.bucket) AS bucket,
    sum(r.device_buckets)::bigint AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw) * 0.25 / 1.0 AS ac_power_kw,
    sum(r.expected_ac_power_kw) * 0.25 / 1.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(r.expected_energy_kwh) AS expected_energy_kwh,
    sum(r.reference_energy_kwh) AS reference_energy_kwh,
    sum(r.poa_w_m2_sum) AS poa_w_m2_sum,
    sum(r.poa_count)::bigint AS poa_count,
    sum(r.poa_irradiation_kwh_m2_sum) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness_sum) AS completeness_sum
FROM site_rollup_15m r
JOIN _site_dirty_1h x ON r.site_id = x.site_id AND time_bucket(INTERVAL '1 hour', r.bucket) = x.bucket
WHERE r.bucket >= (SELECT min(bucket) FROM _site_dirty_1h) AND r.bucket < (SELECT max(bucket) FROM _site_dirty_1h) + INTERVAL '1 hour'
GROUP BY r.site_id, time_bucket(INTERVAL '1 hour', r.bucket);

    DELETE FROM site_rollup_1d t USING _site_dirty_1d x WHERE t.site_id = x.site_id AND t.bucket = x.bucket;
    INSERT INTO site_rollup_1d (site_id, bucket, device_buckets, sample_count, status_ok_count, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh, reference_energy_kwh, poa_w_m2_sum, poa_count, poa_irradiation_kwh_m2_sum, completeness_sum)
SELECT r.site_id, time_bucket(INTERVAL '1 day', r.bucket) AS bucket,
    sum(r.device_buckets)::bigint AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw) * 0.25 / 24.0 AS ac_power_kw,
    sum(r.expected_ac_power_kw) * 0.25 / 24.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(r.expected_energy_kwh) AS expected_energy_kwh,
    sum(r.reference_energy_kwh) AS reference_energy_kwh,
    sum(r.poa_w_m2_sum) AS poa_w_m2_sum,
    sum(r.poa_count)::bigint AS poa_count,
    sum(r.poa_irradiation_kwh_m2_sum) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness_sum) AS completeness_sum
FROM site_rollup_15m r
JOIN _site_dirty_1d x ON r.site_id = x.site_id AND time_bucket(INTERVAL '1 day', r.bucket) = x.bucket
WHERE r.bucket >= (SELECT min(bucket) FROM _site_dirty_1d) AND r.bucket < (SELECT max(bucket) FROM _site_dirty_1d) + INTERVAL '1 day'
GROUP BY r.site_id, time_bucket(INTERVAL '1 day', r.bucket);

    DELETE FROM fleet_rollup_15m t USING _fleet_dirty_15m x WHERE t.bucket = x.bucket;
    INSERT INTO fleet_rollup_15m (bucket, device_buckets, sample_count, status_ok_count, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh, reference_energy_kwh, poa_w_m2_sum, poa_count, poa_irradiation_kwh_m2_sum, completeness_sum)
SELECT time_bucket(INTERVAL '15 minutes', r.bucket) AS bucket,
    sum(r.device_buckets)::bigint AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw) * 0.25 / 0.25 AS ac_power_kw,
    sum(r.expected_ac_power_kw) * 0.25 / 0.25 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(r.expected_energy_kwh) AS expected_energy_kwh,
    sum(r.reference_energy_kwh) AS reference_energy_kwh,
    sum(r.poa_w_m2_sum) AS poa_w_m2_sum,
    sum(r.poa_count)::bigint AS poa_count,
    sum(r.poa_irradiation_kwh_m2_sum) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness_sum) AS completeness_sum
FROM site_rollup_15m r
JOIN _fleet_dirty_15m x ON time_bucket(INTERVAL '15 minutes', r.bucket) = x.bucket
WHERE r.bucket >= (SELECT min(bucket) FROM _fleet_dirty_15m) AND r.bucket < (SELECT max(bucket) FROM _fleet_dirty_15m) + INTERVAL '15 minutes'
GROUP BY time_bucket(INTERVAL '15 minutes', r.bucket);

    DELETE FROM fleet_rollup_1h t USING _fleet_dirty_1h x WHERE t.bucket = x.bucket;
    INSERT INTO fleet_rollup_1h (bucket, device_buckets, sample_count, status_ok_count, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh, reference_energy_kwh, poa_w_m2_sum, poa_count, poa_irradiation_kwh_m2_sum, completeness_sum)
SELECT time_bucket(INTERVAL '1 hour', r.bucket) AS bucket,
    sum(r.device_buckets)::bigint AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw) * 0.25 / 1.0 AS ac_power_kw,
    sum(r.expected_ac_power_kw) * 0.25 / 1.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(r.expected_energy_kwh) AS expected_energy_kwh,
    sum(r.reference_energy_kwh) AS reference_energy_kwh,
    sum(r.poa_w_m2_sum) AS poa_w_m2_sum,
    sum(r.poa_count)::bigint AS poa_count,
    sum(r.poa_irradiation_kwh_m2_sum) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness_sum) AS completeness_sum
FROM site_rollup_15m r
JOIN _fleet_dirty_1h x ON time_bucket(INTERVAL '1 hour', r.bucket) = x.bucket
WHERE r.bucket >= (SELECT min(bucket) FROM _fleet_dirty_1h) AND r.bucket < (SELECT max(bucket) FROM _fleet_dirty_1h) + INTERVAL '1 hour'
GROUP BY time_bucket(INTERVAL '1 hour', r.bucket);

    DELETE FROM fleet_rollup_1d t USING _fleet_dirty_1d x WHERE t.bucket = x.bucket;
    INSERT INTO fleet_rollup_1d (bucket, device_buckets, sample_count, status_ok_count, ac_power_kw, expected_ac_power_kw, energy_kwh, expected_energy_kwh, reference_energy_kwh, poa_w_m2_sum, poa_count, poa_irradiation_kwh_m2_sum, completeness_sum)
SELECT time_bucket(INTERVAL '1 day', r.bucket) AS bucket,
    sum(r.device_buckets)::bigint AS device_buckets,
    sum(r.sample_count)::bigint AS sample_count,
    sum(r.status_ok_count)::bigint AS status_ok_count,
    sum(r.ac_power_kw) * 0.25 / 24.0 AS ac_power_kw,
    sum(r.expected_ac_power_kw) * 0.25 / 24.0 AS expected_ac_power_kw,
    sum(r.energy_kwh) AS energy_kwh,
    sum(r.expected_energy_kwh) AS expected_energy_kwh,
    sum(r.reference_energy_kwh) AS reference_energy_kwh,
    sum(r.poa_w_m2_sum) AS poa_w_m2_sum,
    sum(r.poa_count)::bigint AS poa_count,
    sum(r.poa_irradiation_kwh_m2_sum) AS poa_irradiation_kwh_m2_sum,
    sum(r.completeness_sum) AS completeness_sum
FROM site_rollup_15m r
JOIN _fleet_dirty_1d x ON time_bucket(INTERVAL '1 day', r.bucket) = x.bucket
WHERE r.bucket >= (SELECT min(bucket) FROM _fleet_dirty_1d) AND r.bucket < (SELECT max(bucket) FROM _fleet_dirty_1d) + INTERVAL '1 day'
GROUP BY time_bucket(INTERVAL '1 day', r.bucket);

    -- site-local KPI days containing the changed buckets (0071)
    INSERT INTO kpi_day_invalidations (site_id, day)
    SELECT DISTINCT x.site_id, (x.bucket AT TIME ZONE s.timezone)::date
    FROM _site_dirty_15m x JOIN sites s ON s.site_id = x.site_id;
    PERFORM helios_refresh_kpi_days();
    RETURN n;
END $$;
COMMENT ON FUNCTION helios_refresh_site_rollups() IS
    'Incremental refresh of site_rollup_*/fleet_rollup_* and the site-local KPI days from the site invalidation log.';

-- Every caller of helios_refresh_rollups() now refreshes the serving layer as well.
ALTER FUNCTION helios_refresh_rollups() RENAME TO helios_refresh_device_rollups;
CREATE FUNCTION helios_refresh_rollups() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    n := helios_refresh_device_rollups();
    PERFORM helios_refresh_site_rollups();
    RETURN n;
END $$;
COMMENT ON FUNCTION helios_refresh_rollups() IS
    'Device rollups (helios_refresh_device_rollups), then site/fleet rollups and KPI days; returns the device 15-min buckets recomputed.';
