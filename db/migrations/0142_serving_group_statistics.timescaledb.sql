-- Backend: TimescaleDB. Grouping statistics for the site rollups (issue 16), as in the
-- .postgres variant: GROUP BY site_id, date_trunc('month' | 'day', bucket) was estimated at
-- 40 000-70 000 groups for 260 real ones; with expression statistics the plan aggregates chunk
-- by chunk in parallel workers with small hash tables. The statistics live on the continuous
-- aggregates' materialisation hypertables and are built by an ANALYZE of the hypertable
-- (inheritance statistics), which autovacuum does not run on a hypertable parent: the job
-- helios_analyze_serving_job re-analyses them daily (the counts grow by one month per month).
DO $$
DECLARE
    agg text;
    storage text;
BEGIN
    FOREACH agg IN ARRAY ARRAY['site_rollup_15m', 'site_rollup_1h'] LOOP
        SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) INTO storage
        FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'public' AND view_name = agg;
        EXECUTE format('CREATE STATISTICS %I (ndistinct) ON site_id, date_trunc(''month'', bucket) FROM %s',
                       agg || '_month_stx', storage);
        EXECUTE format('CREATE STATISTICS %I (ndistinct) ON site_id, date_trunc(''day'', bucket) FROM %s',
                       agg || '_day_stx', storage);
        EXECUTE format('ANALYZE %s', storage);
    END LOOP;
END $$;

CREATE PROCEDURE helios_analyze_serving_job(job_id integer, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    storage text;
BEGIN
    FOR storage IN
        SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
        FROM timescaledb_information.continuous_aggregates
        WHERE view_schema = 'public' AND view_name IN ('site_rollup_15m', 'site_rollup_1h')
    LOOP
        EXECUTE format('ANALYZE %s', storage);
    END LOOP;
END $$;
SELECT add_job('helios_analyze_serving_job', INTERVAL '1 day');
