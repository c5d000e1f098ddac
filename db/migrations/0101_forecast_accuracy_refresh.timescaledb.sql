-- Backend: TimescaleDB. Actuals for forecast_accuracy_15m (0100) come from the continuous
-- aggregate site_rollup_15m, which has no triggers: a job recomputes the keys of the window its
-- refresh policy covers (last 7 days, here 8) plus the forecast invalidation log every 15
-- minutes, like the KPI-day job (0072); late data older than that is refreshed explicitly with
-- heliosgrid.db.serving.refresh_serving_layer(start=...), as for the aggregates themselves.
CREATE PROCEDURE helios_forecast_accuracy_job(job_id integer, config jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM helios_refresh_forecast_accuracy(
        now() - coalesce((config ->> 'start_offset')::interval, INTERVAL '8 days'), now());
END $$;
SELECT add_job('helios_forecast_accuracy_job', INTERVAL '15 minutes', config => '{"start_offset": "8 days"}');
