-- Data-quality pass counts per UTC hour, kept on write (issue 16, ADR 0410). Same statements on
-- both backends (dq_results is a plain table).
--
-- The pass-rate visuals (report "Data quality" page, dashboard tab, /v1/insights/quality) counted
-- dq_results rows on every query: one row per check × scope (site and each device) × 15-min
-- window, so a week of the fleet's checks is linear in sites × devices (bench: 1.1 → 9.4 ms from
-- 5 to 50 sites for the 24-h dashboard rates, with site-level rows only).
--
-- * dq_check_hourly: per check and UTC hour of checked_at, the results stored and those passed
--   (fleet level: constant in sites).
-- * dq_site_hourly: per site and UTC hour, over all checks and scopes (a site's list has one row
--   per site and hour, whatever the devices and checks).
-- * A statement-level trigger per operation on dq_results (transition tables) adds the inserted
--   rows, subtracts the deleted ones, and for an update (the quality runner's upsert of a re-run
--   window) subtracts the old rows and adds the new: O(rows written). Increments are upserts
--   (ON CONFLICT DO UPDATE) in key order: concurrent writers serialise on the counter rows without
--   deadlocking each other, no extra lock.
--   Counters that reach zero are removed.
-- * TRUNCATE dq_results empties both.

CREATE TABLE dq_check_hourly (
    check_name   text NOT NULL,
    hour         timestamptz NOT NULL,
    runs         bigint NOT NULL,
    passed_runs  bigint NOT NULL,
    PRIMARY KEY (check_name, hour)
);
CREATE INDEX dq_check_hourly_hour_idx ON dq_check_hourly (hour);
COMMENT ON TABLE dq_check_hourly IS 'Data-quality results stored and passed per check and UTC hour of checked_at (0180).';

CREATE TABLE dq_site_hourly (
    site_id      text NOT NULL,
    hour         timestamptz NOT NULL,
    runs         bigint NOT NULL,
    passed_runs  bigint NOT NULL,
    PRIMARY KEY (site_id, hour)
);
CREATE INDEX dq_site_hourly_hour_idx ON dq_site_hourly (hour);
COMMENT ON TABLE dq_site_hourly IS 'Data-quality results stored and passed per site and UTC hour of checked_at, all checks (0180).';

-- Add (sign = 1) or subtract (sign = -1) results, given as parallel arrays of their check name,
-- site, checked_at and verdict, from both counters.
CREATE FUNCTION helios_dq_pass_apply(check_names text[], site_ids text[], checked_ats timestamptz[],
                                     verdicts boolean[], sign integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dq_check_hourly AS t (check_name, hour, runs, passed_runs)
    SELECT r.check_name, date_trunc('hour', r.checked_at, 'UTC'), sign * count(*), sign * count(*) FILTER (WHERE r.passed)
    FROM unnest(check_names, checked_ats, verdicts) AS r(check_name, checked_at, passed) GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (check_name, hour) DO UPDATE
    SET runs = t.runs + EXCLUDED.runs, passed_runs = t.passed_runs + EXCLUDED.passed_runs;
    INSERT INTO dq_site_hourly AS t (site_id, hour, runs, passed_runs)
    SELECT r.site_id, date_trunc('hour', r.checked_at, 'UTC'), sign * count(*), sign * count(*) FILTER (WHERE r.passed)
    FROM unnest(site_ids, checked_ats, verdicts) AS r(site_id, checked_at, passed) GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (site_id, hour) DO UPDATE
    SET runs = t.runs + EXCLUDED.runs, passed_runs = t.passed_runs + EXCLUDED.passed_runs;
    DELETE FROM dq_check_hourly t
    USING (SELECT DISTINCT n, date_trunc('hour', c, 'UTC') AS hour FROM unnest(check_names, checked_ats) AS u(n, c)) c
    WHERE t.check_name = c.n AND t.hour = c.hour AND t.runs <= 0;
    DELETE FROM dq_site_hourly t
    USING (SELECT DISTINCT s, date_trunc('hour', c, 'UTC') AS hour FROM unnest(site_ids, checked_ats) AS u(s, c)) c
    WHERE t.site_id = c.s AND t.hour = c.hour AND t.runs <= 0;
$$;

CREATE FUNCTION helios_dq_pass_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM helios_dq_pass_apply(array_agg(check_name), array_agg(site_id), array_agg(checked_at), array_agg(passed), 1)
    FROM added;
    RETURN NULL;
END $$;

CREATE FUNCTION helios_dq_pass_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM helios_dq_pass_apply(array_agg(check_name), array_agg(site_id), array_agg(checked_at), array_agg(passed), -1)
    FROM removed;
    RETURN NULL;
END $$;

-- An update (e.g. the quality runner's upsert of a re-checked window) moves rows: old out, new in.
CREATE FUNCTION helios_dq_pass_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM helios_dq_pass_apply(array_agg(check_name), array_agg(site_id), array_agg(checked_at), array_agg(passed), -1)
    FROM removed;
    PERFORM helios_dq_pass_apply(array_agg(check_name), array_agg(site_id), array_agg(checked_at), array_agg(passed), 1)
    FROM added;
    RETURN NULL;
END $$;

CREATE TRIGGER dq_results_pass_ins AFTER INSERT ON dq_results
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION helios_dq_pass_added();
CREATE TRIGGER dq_results_pass_upd AFTER UPDATE ON dq_results
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION helios_dq_pass_updated();
CREATE TRIGGER dq_results_pass_del AFTER DELETE ON dq_results
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION helios_dq_pass_removed();

CREATE FUNCTION helios_truncate_dq_pass() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE dq_check_hourly, dq_site_hourly;
    RETURN NULL;
END $$;
CREATE TRIGGER dq_results_pass_truncate AFTER TRUNCATE ON dq_results
    FOR EACH STATEMENT EXECUTE FUNCTION helios_truncate_dq_pass();

-- Existing results.
INSERT INTO dq_check_hourly (check_name, hour, runs, passed_runs)
SELECT check_name, date_trunc('hour', checked_at, 'UTC'), count(*), count(*) FILTER (WHERE passed)
FROM dq_results GROUP BY 1, 2;
INSERT INTO dq_site_hourly (site_id, hour, runs, passed_runs)
SELECT site_id, date_trunc('hour', checked_at, 'UTC'), count(*), count(*) FILTER (WHERE passed)
FROM dq_results GROUP BY 1, 2;

CREATE VIEW bi.dq_check_hourly AS
SELECT check_name, hour, runs, passed_runs FROM dq_check_hourly;
COMMENT ON VIEW bi.dq_check_hourly IS 'Data-quality results stored (runs) and passed per check and UTC hour of checked_at.';

CREATE VIEW bi.dq_site_hourly AS
SELECT site_id, hour, runs, passed_runs FROM dq_site_hourly;
COMMENT ON VIEW bi.dq_site_hourly IS 'Data-quality results stored (runs) and passed per site and UTC hour of checked_at, all checks.';
GRANT SELECT ON bi.dq_check_hourly, bi.dq_site_hourly TO helios_bi_reader;
