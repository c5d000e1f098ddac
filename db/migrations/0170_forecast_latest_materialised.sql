-- The latest forecast per (site, 15-min target) and the fleet's forecast band per target, kept
-- on write (issue 16, ADR 0400). Same statements on both backends (forecasts is a plain table).
--
-- bi.forecast_latest was a DISTINCT ON over every stored issue of every site: the fleet-overview
-- band ("fleet forecast today", the sum over sites per target) read sites × issues-per-target rows
-- on every DirectQuery — linear in sites (1.1 → 11.4 ms from 5 to 50 sites in the bench, with ONE
-- issue a day; the hourly forecast DAG stores up to 48 issues per target, 24 × more rows).
--
-- * forecast_latest_15m: one row per (site, target), the row DISTINCT ON (site_id, target_ts)
--   ORDER BY issued_at DESC, model_version picked (the old view's rule, unchanged).
-- * fleet_forecast_15m: per target the sums of the sites' latest P10/P50/P90 (kW) and the number
--   of sites summed. The sum of quantiles is the band of perfectly correlated site errors (an
--   upper bound on the fleet band's width; same as the report's SUM measures before).
-- * A statement-level trigger on forecasts (INSERT, UPDATE, DELETE; transition tables) re-picks
--   the latest row of every touched (site, target) and applies the difference to the fleet sums:
--   O(rows written), not O(sites). An advisory transaction lock serialises these updates: two
--   writers of the same targets never interleave the read-old / write-new steps (each statement
--   after the lock sees what the other committed). Writers commit per site (forecast pipeline),
--   so the lock is held for one site's rows.
-- * TRUNCATE forecasts empties both.

CREATE TABLE forecast_latest_15m (
    site_id        text NOT NULL,
    target_ts      timestamptz NOT NULL,
    model_version  text NOT NULL,
    issued_at      timestamptz NOT NULL,
    horizon_min    integer NOT NULL,
    p10_kw         double precision NOT NULL,
    p50_kw         double precision NOT NULL,
    p90_kw         double precision NOT NULL,
    PRIMARY KEY (site_id, target_ts)
);
CREATE INDEX forecast_latest_15m_target_idx ON forecast_latest_15m (target_ts);
COMMENT ON TABLE forecast_latest_15m IS 'Latest forecast (kW) per site and 15-min target, kept by the forecasts trigger (0170).';

CREATE TABLE fleet_forecast_15m (
    target_ts  timestamptz PRIMARY KEY,
    p10_kw     double precision NOT NULL,
    p50_kw     double precision NOT NULL,
    p90_kw     double precision NOT NULL,
    sites      integer NOT NULL
);
COMMENT ON TABLE fleet_forecast_15m IS 'Sum over sites of the latest P10/P50/P90 (kW) per 15-min target (0170).';

CREATE FUNCTION helios_sync_forecast_latest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('helios_forecast_latest'));
    -- 1. take the touched pairs' current latest rows out, and their values out of the fleet sums
    WITH touched AS (SELECT DISTINCT site_id, target_ts FROM changed),
    old AS (
        DELETE FROM forecast_latest_15m l USING touched t
        WHERE l.site_id = t.site_id AND l.target_ts = t.target_ts
        RETURNING l.target_ts, l.p10_kw, l.p50_kw, l.p90_kw
    )
    UPDATE fleet_forecast_15m ff
    SET p10_kw = ff.p10_kw - o.p10_kw, p50_kw = ff.p50_kw - o.p50_kw, p90_kw = ff.p90_kw - o.p90_kw,
        sites = ff.sites - o.n
    FROM (SELECT target_ts, sum(p10_kw) AS p10_kw, sum(p50_kw) AS p50_kw, sum(p90_kw) AS p90_kw, count(*) AS n
          FROM old GROUP BY target_ts) o
    WHERE ff.target_ts = o.target_ts;
    -- 2. put the pairs' latest rows back (from the forecasts as they are now) and add them
    WITH touched AS (SELECT DISTINCT site_id, target_ts FROM changed),
    new AS (
        INSERT INTO forecast_latest_15m (site_id, target_ts, model_version, issued_at, horizon_min, p10_kw, p50_kw, p90_kw)
        SELECT DISTINCT ON (f.site_id, f.target_ts)
               f.site_id, f.target_ts, f.model_version, f.issued_at, f.horizon_min, f.p10_kw, f.p50_kw, f.p90_kw
        FROM forecasts f JOIN touched t ON t.site_id = f.site_id AND t.target_ts = f.target_ts
        ORDER BY f.site_id, f.target_ts, f.issued_at DESC, f.model_version
        RETURNING target_ts, p10_kw, p50_kw, p90_kw
    )
    INSERT INTO fleet_forecast_15m AS ff (target_ts, p10_kw, p50_kw, p90_kw, sites)
    SELECT target_ts, sum(p10_kw), sum(p50_kw), sum(p90_kw), count(*) FROM new GROUP BY target_ts
    ON CONFLICT (target_ts) DO UPDATE
    SET p10_kw = ff.p10_kw + EXCLUDED.p10_kw, p50_kw = ff.p50_kw + EXCLUDED.p50_kw,
        p90_kw = ff.p90_kw + EXCLUDED.p90_kw, sites = ff.sites + EXCLUDED.sites;
    -- 3. targets no site forecasts any more
    DELETE FROM fleet_forecast_15m ff USING (SELECT DISTINCT target_ts FROM changed) c
    WHERE ff.target_ts = c.target_ts AND ff.sites <= 0;
    RETURN NULL;
END $$;

CREATE TRIGGER forecasts_latest_ins AFTER INSERT ON forecasts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_sync_forecast_latest();
CREATE TRIGGER forecasts_latest_upd AFTER UPDATE ON forecasts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_sync_forecast_latest();
CREATE TRIGGER forecasts_latest_del AFTER DELETE ON forecasts
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_sync_forecast_latest();

CREATE FUNCTION helios_truncate_forecast_latest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE forecast_latest_15m, fleet_forecast_15m;
    RETURN NULL;
END $$;
CREATE TRIGGER forecasts_latest_truncate AFTER TRUNCATE ON forecasts
    FOR EACH STATEMENT EXECUTE FUNCTION helios_truncate_forecast_latest();

-- Existing forecasts.
INSERT INTO forecast_latest_15m (site_id, target_ts, model_version, issued_at, horizon_min, p10_kw, p50_kw, p90_kw)
SELECT DISTINCT ON (site_id, target_ts)
       site_id, target_ts, model_version, issued_at, horizon_min, p10_kw, p50_kw, p90_kw
FROM forecasts
ORDER BY site_id, target_ts, issued_at DESC, model_version;
INSERT INTO fleet_forecast_15m (target_ts, p10_kw, p50_kw, p90_kw, sites)
SELECT target_ts, sum(p10_kw), sum(p50_kw), sum(p90_kw), count(*) FROM forecast_latest_15m GROUP BY target_ts;

-- Same columns as before (the API, the TMDL and the report bind to them).
CREATE OR REPLACE VIEW bi.forecast_latest AS
SELECT site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw
FROM forecast_latest_15m;
COMMENT ON VIEW bi.forecast_latest IS 'Latest P10/P50/P90 forecast of site AC power (kW) per 15-min target (forecast_latest_15m).';

CREATE VIEW bi.fleet_forecast_15m AS
SELECT target_ts, p10_kw, p50_kw, p90_kw, sites AS sites_forecast
FROM fleet_forecast_15m;
COMMENT ON VIEW bi.fleet_forecast_15m IS 'Fleet forecast band: sum over sites of the latest P10/P50/P90 (kW) per 15-min target.';
GRANT SELECT ON bi.forecast_latest, bi.fleet_forecast_15m TO helios_bi_reader;
