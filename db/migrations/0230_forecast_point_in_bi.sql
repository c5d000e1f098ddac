-- The point forecast (expected value) in the latest-forecast and fleet tables and their BI views
-- (issue 15, ADR 0580). Same statements on both backends (plain tables, as in 0170).
--
-- Since ADR 0580 p50_kw is a median and point_kw the expected value. A sum over sites or over a day's
-- targets of expected values is the expected sum (fleet power, energy); a sum of medians is not the
-- median of the sum. forecast_latest_15m keeps each site's latest point_kw (NULL for rows stored before
-- migration 0220); fleet_forecast_15m sums coalesce(point_kw, p50_kw) over sites (a row from before 0220
-- had P50 = point forecast). The trigger of 0170 is replaced by the same logic with the new column.

ALTER TABLE forecast_latest_15m ADD COLUMN point_kw double precision;
ALTER TABLE fleet_forecast_15m ADD COLUMN point_kw double precision NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION helios_sync_forecast_latest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('helios_forecast_latest'));
    -- 1. take the touched pairs' current latest rows out, and their values out of the fleet sums
    WITH touched AS (SELECT DISTINCT site_id, target_ts FROM changed),
    old AS (
        DELETE FROM forecast_latest_15m l USING touched t
        WHERE l.site_id = t.site_id AND l.target_ts = t.target_ts
        RETURNING l.target_ts, l.p10_kw, l.p50_kw, l.p90_kw, coalesce(l.point_kw, l.p50_kw) AS point_kw
    )
    UPDATE fleet_forecast_15m ff
    SET p10_kw = ff.p10_kw - o.p10_kw, p50_kw = ff.p50_kw - o.p50_kw, p90_kw = ff.p90_kw - o.p90_kw,
        point_kw = ff.point_kw - o.point_kw, sites = ff.sites - o.n
    FROM (SELECT target_ts, sum(p10_kw) AS p10_kw, sum(p50_kw) AS p50_kw, sum(p90_kw) AS p90_kw,
                 sum(point_kw) AS point_kw, count(*) AS n
          FROM old GROUP BY target_ts) o
    WHERE ff.target_ts = o.target_ts;
    -- 2. put the pairs' latest rows back (from the forecasts as they are now) and add them
    WITH touched AS (SELECT DISTINCT site_id, target_ts FROM changed),
    new AS (
        INSERT INTO forecast_latest_15m (site_id, target_ts, model_version, issued_at, horizon_min, p10_kw, p50_kw, p90_kw,
                                         point_kw)
        SELECT DISTINCT ON (f.site_id, f.target_ts)
               f.site_id, f.target_ts, f.model_version, f.issued_at, f.horizon_min, f.p10_kw, f.p50_kw, f.p90_kw, f.point_kw
        FROM forecasts f JOIN touched t ON t.site_id = f.site_id AND t.target_ts = f.target_ts
        ORDER BY f.site_id, f.target_ts, f.issued_at DESC, f.model_version
        RETURNING target_ts, p10_kw, p50_kw, p90_kw, coalesce(point_kw, p50_kw) AS point_kw
    )
    INSERT INTO fleet_forecast_15m AS ff (target_ts, p10_kw, p50_kw, p90_kw, point_kw, sites)
    SELECT target_ts, sum(p10_kw), sum(p50_kw), sum(p90_kw), sum(point_kw), count(*) FROM new GROUP BY target_ts
    ON CONFLICT (target_ts) DO UPDATE
    SET p10_kw = ff.p10_kw + EXCLUDED.p10_kw, p50_kw = ff.p50_kw + EXCLUDED.p50_kw,
        p90_kw = ff.p90_kw + EXCLUDED.p90_kw, point_kw = ff.point_kw + EXCLUDED.point_kw,
        sites = ff.sites + EXCLUDED.sites;
    -- 3. targets no site forecasts any more
    DELETE FROM fleet_forecast_15m ff USING (SELECT DISTINCT target_ts FROM changed) c
    WHERE ff.target_ts = c.target_ts AND ff.sites <= 0;
    RETURN NULL;
END $$;

-- Existing rows.
UPDATE forecast_latest_15m l SET point_kw = f.point_kw
FROM forecasts f
WHERE f.site_id = l.site_id AND f.target_ts = l.target_ts AND f.issued_at = l.issued_at AND f.model_version = l.model_version;
UPDATE fleet_forecast_15m ff SET point_kw = s.point_kw
FROM (SELECT target_ts, sum(coalesce(point_kw, p50_kw)) AS point_kw FROM forecast_latest_15m GROUP BY target_ts) s
WHERE ff.target_ts = s.target_ts;

-- Columns appended (the API, the TMDL and the report bind to the others by name).
CREATE OR REPLACE VIEW bi.forecast_latest AS
SELECT site_id, model_version, issued_at, target_ts, horizon_min, p10_kw, p50_kw, p90_kw, point_kw
FROM forecast_latest_15m;
COMMENT ON VIEW bi.forecast_latest IS
    'Latest forecast of site AC power (kW) per 15-min target: P10/P50/P90 (P50 = median) and point_kw, the expected value (NULL before migration 0220).';

CREATE OR REPLACE VIEW bi.fleet_forecast_15m AS
SELECT target_ts, p10_kw, p50_kw, p90_kw, sites AS sites_forecast, point_kw
FROM fleet_forecast_15m;
COMMENT ON VIEW bi.fleet_forecast_15m IS
    'Fleet forecast per 15-min target: sums over sites of the latest P10/P50/P90 (kW) and point_kw, the expected fleet power (kW).';
