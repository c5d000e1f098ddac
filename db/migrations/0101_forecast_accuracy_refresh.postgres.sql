-- Backend: plain PostgreSQL. Actuals for forecast_accuracy_15m (0100) change when the site
-- refresh (0072) rewrites site_rollup_15m buckets: a statement trigger logs those that have a
-- forecast, whatever their age, and helios_refresh_rollups() — device rollups, site/fleet rollups
-- and KPI days — now also refreshes the accuracy rows, so every caller (writer, DAGs, CLI) keeps
-- bi.forecast_accuracy current.

CREATE FUNCTION helios_log_site_accuracy_invalidations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO forecast_accuracy_invalidations (site_id, target_ts)
    SELECT DISTINCT c.site_id, c.bucket FROM changed c
    WHERE EXISTS (SELECT 1 FROM forecasts f WHERE f.site_id = c.site_id AND f.target_ts = c.bucket);
    RETURN NULL;
END $$;
CREATE TRIGGER site_rollup_15m_accuracy_inval_ins AFTER INSERT ON site_rollup_15m
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_log_site_accuracy_invalidations();
CREATE TRIGGER site_rollup_15m_accuracy_inval_del AFTER DELETE ON site_rollup_15m
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_log_site_accuracy_invalidations();
CREATE TRIGGER site_rollup_15m_accuracy_inval_upd AFTER UPDATE ON site_rollup_15m
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_log_site_accuracy_invalidations();

CREATE OR REPLACE FUNCTION helios_refresh_rollups() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    n := helios_refresh_device_rollups();
    PERFORM helios_refresh_site_rollups();
    PERFORM helios_refresh_forecast_accuracy();
    RETURN n;
END $$;
COMMENT ON FUNCTION helios_refresh_rollups() IS
    'Device rollups (helios_refresh_device_rollups), then site/fleet rollups, KPI days and forecast accuracy; '
    'returns the device 15-min buckets recomputed.';
