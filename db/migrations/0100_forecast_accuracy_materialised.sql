-- bi.forecast_accuracy materialised (issue 16). 0074 found, for every measured site bucket of the
-- filtered range, the latest forecast issued no later than its target by one index probe: 57 600
-- probes for 30 days of a 20-site fleet, 0.9-2 s per accuracy visual, for every viewer.
--
-- forecast_accuracy_15m keeps one row per (site, 15-min target): the forecast that 0074's lateral
-- picks (latest issued_at <= target_ts, then model_version) and the measured site power of that
-- bucket (site_rollup_15m.ac_power_kw, kW). A row exists only where both exist, as before. It is
-- refreshed for the keys that changed, like the rollups:
--   * forecasts: statement triggers log every (site_id, target_ts) inserted, updated or deleted
--     into forecast_accuracy_invalidations (a forecast arriving after the actuals, a re-issue);
--   * actuals: on plain PostgreSQL a statement trigger on site_rollup_15m logs the site buckets the
--     site refresh rewrote (any age of late data), on TimescaleDB a job recomputes the policy
--     window and refresh_serving_layer an explicit older one (0101).
-- helios_refresh_forecast_accuracy(start, stop) claims the log and, when given, every key of the
-- window [start, stop), and recomputes those keys (delete + insert). Derived columns (error,
-- absolute error, in-band) stay in the view. Units: kW, UTC timestamps, horizon in minutes.

CREATE TABLE forecast_accuracy_15m (
    site_id       text NOT NULL,
    target_ts     timestamptz NOT NULL,
    issued_at     timestamptz NOT NULL,
    model_version text NOT NULL,
    horizon_min   integer NOT NULL,
    p10_kw        double precision NOT NULL,
    p50_kw        double precision NOT NULL,
    p90_kw        double precision NOT NULL,
    actual_kw     double precision,
    PRIMARY KEY (site_id, target_ts)
);
-- Accuracy visuals filter a target-time range over all sites: index-only scans.
CREATE INDEX forecast_accuracy_15m_target_idx ON forecast_accuracy_15m (target_ts)
    INCLUDE (site_id, horizon_min, p10_kw, p50_kw, p90_kw, actual_kw);

CREATE TABLE forecast_accuracy_invalidations (
    site_id   text NOT NULL,
    target_ts timestamptz NOT NULL
);

CREATE FUNCTION helios_log_forecast_accuracy_invalidations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO forecast_accuracy_invalidations (site_id, target_ts)
        SELECT site_id, target_ts FROM old_rows UNION SELECT site_id, target_ts FROM new_rows;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO forecast_accuracy_invalidations (site_id, target_ts) SELECT DISTINCT site_id, target_ts FROM new_rows;
    ELSE
        INSERT INTO forecast_accuracy_invalidations (site_id, target_ts) SELECT DISTINCT site_id, target_ts FROM old_rows;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER forecasts_accuracy_inval_ins AFTER INSERT ON forecasts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION helios_log_forecast_accuracy_invalidations();
CREATE TRIGGER forecasts_accuracy_inval_del AFTER DELETE ON forecasts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION helios_log_forecast_accuracy_invalidations();
CREATE TRIGGER forecasts_accuracy_inval_upd AFTER UPDATE ON forecasts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION helios_log_forecast_accuracy_invalidations();

CREATE FUNCTION helios_refresh_forecast_accuracy(start timestamptz DEFAULT NULL, stop timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('helios_refresh_forecast_accuracy'));
    CREATE TEMP TABLE IF NOT EXISTS _accuracy_dirty (site_id text, target_ts timestamptz) ON COMMIT DROP;
    TRUNCATE _accuracy_dirty;
    WITH claimed AS (DELETE FROM forecast_accuracy_invalidations RETURNING site_id, target_ts)
    INSERT INTO _accuracy_dirty SELECT site_id, target_ts FROM claimed;
    IF start IS NOT NULL AND stop IS NOT NULL THEN
        INSERT INTO _accuracy_dirty
        SELECT site_id, target_ts FROM forecasts WHERE target_ts >= start AND target_ts < stop
        UNION SELECT site_id, target_ts FROM forecast_accuracy_15m WHERE target_ts >= start AND target_ts < stop;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS _accuracy_keys (site_id text, target_ts timestamptz) ON COMMIT DROP;
    TRUNCATE _accuracy_keys;
    INSERT INTO _accuracy_keys SELECT DISTINCT site_id, target_ts FROM _accuracy_dirty;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    ANALYZE _accuracy_keys;
    DELETE FROM forecast_accuracy_15m t USING _accuracy_keys k WHERE t.site_id = k.site_id AND t.target_ts = k.target_ts;
    INSERT INTO forecast_accuracy_15m (site_id, target_ts, issued_at, model_version, horizon_min, p10_kw, p50_kw, p90_kw,
                                       actual_kw)
    SELECT a.site_id, a.bucket, f.issued_at, f.model_version, f.horizon_min, f.p10_kw, f.p50_kw, f.p90_kw, a.ac_power_kw
    FROM _accuracy_keys k
    JOIN site_rollup_15m a ON a.site_id = k.site_id AND a.bucket = k.target_ts
    CROSS JOIN LATERAL (
        SELECT fc.issued_at, fc.model_version, fc.horizon_min, fc.p10_kw, fc.p50_kw, fc.p90_kw
        FROM forecasts fc
        WHERE fc.site_id = a.site_id AND fc.target_ts = a.bucket AND fc.issued_at <= fc.target_ts
        ORDER BY fc.issued_at DESC, fc.model_version
        LIMIT 1) f
    WHERE a.bucket >= (SELECT min(target_ts) FROM _accuracy_keys) AND a.bucket <= (SELECT max(target_ts) FROM _accuracy_keys);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION helios_refresh_forecast_accuracy(timestamptz, timestamptz) IS
    'Recompute forecast_accuracy_15m for the logged (site, target) keys and, if given, all keys of [start, stop); returns rows written.';

-- Same columns, names and rows as 0074 (CREATE OR REPLACE keeps the grants).
CREATE OR REPLACE VIEW bi.forecast_accuracy AS
SELECT site_id, target_ts, issued_at, model_version, horizon_min,
       p10_kw, p50_kw, p90_kw,
       actual_kw,
       p50_kw - actual_kw AS error_kw,
       abs(p50_kw - actual_kw) AS abs_error_kw,
       (actual_kw BETWEEN p10_kw AND p90_kw) AS in_band
FROM forecast_accuracy_15m;
COMMENT ON VIEW bi.forecast_accuracy IS
    'Latest forecast issued no later than each target vs measured site power (kW), per site and 15-min target (materialised forecast_accuracy_15m).';

-- Existing forecasts and actuals (a database migrated with data).
SELECT helios_refresh_forecast_accuracy('-infinity', 'infinity');
