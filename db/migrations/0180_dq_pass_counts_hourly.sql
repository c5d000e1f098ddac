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

-- Generic parts, also used by migrations 0190 and 0200 for their tables kept on write.
-- A statement-level trigger on a source table passes its transition rows, as an array of the table's
-- row type, to the apply function named in the trigger's argument: removed rows (DELETE, UPDATE)
-- with sign -1, added rows (INSERT, UPDATE) with sign +1. An update thus moves rows: old out, new in.
CREATE FUNCTION helios_apply_transition_deltas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE format('SELECT %I(array_agg(ROW(t.*)::%I.%I), -1) FROM removed t', TG_ARGV[0], TG_TABLE_SCHEMA, TG_TABLE_NAME);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('SELECT %I(array_agg(ROW(t.*)::%I.%I), 1) FROM added t', TG_ARGV[0], TG_TABLE_SCHEMA, TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;

-- TRUNCATE of a source table empties the tables kept from it (the trigger's arguments).
CREATE FUNCTION helios_truncate_derived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'TRUNCATE ' || (SELECT string_agg(quote_ident(a), ', ') FROM unnest(TG_ARGV) a);
    RETURN NULL;
END $$;

-- Add (sign = 1) or subtract (sign = -1) dq_results rows from both counters.
CREATE FUNCTION helios_dq_pass_apply(changed dq_results[], sign integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dq_check_hourly AS t (check_name, hour, runs, passed_runs)
    SELECT r.check_name, date_trunc('hour', r.checked_at, 'UTC'), sign * count(*), sign * count(*) FILTER (WHERE r.passed)
    FROM unnest(changed) r GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (check_name, hour) DO UPDATE
    SET runs = t.runs + EXCLUDED.runs, passed_runs = t.passed_runs + EXCLUDED.passed_runs;
    INSERT INTO dq_site_hourly AS t (site_id, hour, runs, passed_runs)
    SELECT r.site_id, date_trunc('hour', r.checked_at, 'UTC'), sign * count(*), sign * count(*) FILTER (WHERE r.passed)
    FROM unnest(changed) r GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (site_id, hour) DO UPDATE
    SET runs = t.runs + EXCLUDED.runs, passed_runs = t.passed_runs + EXCLUDED.passed_runs;
    DELETE FROM dq_check_hourly t
    USING (SELECT DISTINCT check_name, date_trunc('hour', checked_at, 'UTC') AS hour FROM unnest(changed)) c
    WHERE t.check_name = c.check_name AND t.hour = c.hour AND t.runs <= 0;
    DELETE FROM dq_site_hourly t
    USING (SELECT DISTINCT site_id, date_trunc('hour', checked_at, 'UTC') AS hour FROM unnest(changed)) c
    WHERE t.site_id = c.site_id AND t.hour = c.hour AND t.runs <= 0;
$$;

CREATE TRIGGER dq_results_pass_ins AFTER INSERT ON dq_results REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_dq_pass_apply');
CREATE TRIGGER dq_results_pass_upd AFTER UPDATE ON dq_results REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_dq_pass_apply');
CREATE TRIGGER dq_results_pass_del AFTER DELETE ON dq_results REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_dq_pass_apply');
CREATE TRIGGER dq_results_pass_truncate AFTER TRUNCATE ON dq_results
    FOR EACH STATEMENT EXECUTE FUNCTION helios_truncate_derived('dq_check_hourly', 'dq_site_hourly');

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
