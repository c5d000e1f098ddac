-- Forecast accuracy sums over the whole fleet per UTC target day and horizon hour, kept on write
-- (issue 16, ADR 0420). Same statements on both backends (forecast_accuracy_daily is a plain table).
--
-- The fleet-level accuracy visuals (error by horizon, the MAE / RMSE / bias / coverage cards) summed
-- forecast_accuracy_daily over every site: sites × days × horizon hours rows per query (72 000 for
-- 30 days of 50 sites with 48-hour horizons), 1.0 → 11.4 ms from 5 to 50 sites in the bench (20 →
-- 50 sites × 2.2–2.4, site ratio 2.5): linear in sites for a visual with 48 bars.
--
-- * forecast_accuracy_fleet_daily: per (day, horizon_h) the sums of forecast_accuracy_daily's
--   columns over sites, and the number of site rows summed (sites). Every accuracy statistic is a
--   ratio of these sums, so the fleet figures are exact.
-- * Statement-level triggers on forecast_accuracy_daily (which its own trigger rewrites per site
--   and day with DELETE + INSERT, migration 0141) add inserted rows and subtract deleted ones (an
--   update: old out, new in): O(rows written). Increments are upserts in key order, so concurrent
--   writers (sites refreshed in parallel) serialise on the fleet rows without deadlocking each
--   other; a row whose sites count reaches zero is removed. TRUNCATE empties it.
-- * The sums are updated by differences: rounding can leave ~1e-12 relative error (see the check
--   in docs/operations.md).

CREATE TABLE forecast_accuracy_fleet_daily (
    day              date NOT NULL,
    horizon_h        integer NOT NULL,
    sites            integer NOT NULL,
    targets          bigint NOT NULL,
    in_band_targets  bigint NOT NULL,
    error_kw_sum     double precision NOT NULL,
    abs_error_kw_sum double precision NOT NULL,
    sq_error_kw_sum  double precision NOT NULL,
    PRIMARY KEY (day, horizon_h)
);
COMMENT ON TABLE forecast_accuracy_fleet_daily IS
    'forecast_accuracy_daily summed over sites per UTC target day and horizon hour, kept on write (0190).';

-- Add (sign = 1) or subtract (sign = -1) forecast_accuracy_daily rows from the fleet sums.
CREATE FUNCTION helios_accuracy_fleet_apply(changed forecast_accuracy_daily[], sign integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO forecast_accuracy_fleet_daily AS f (day, horizon_h, sites, targets, in_band_targets, error_kw_sum,
                                                    abs_error_kw_sum, sq_error_kw_sum)
    SELECT r.day, r.horizon_h, sign * count(*), sign * sum(r.targets), sign * sum(r.in_band_targets),
           sign * sum(r.error_kw_sum), sign * sum(r.abs_error_kw_sum), sign * sum(r.sq_error_kw_sum)
    FROM unnest(changed) r GROUP BY r.day, r.horizon_h ORDER BY r.day, r.horizon_h
    ON CONFLICT (day, horizon_h) DO UPDATE
    SET sites = f.sites + EXCLUDED.sites, targets = f.targets + EXCLUDED.targets,
        in_band_targets = f.in_band_targets + EXCLUDED.in_band_targets,
        error_kw_sum = f.error_kw_sum + EXCLUDED.error_kw_sum,
        abs_error_kw_sum = f.abs_error_kw_sum + EXCLUDED.abs_error_kw_sum,
        sq_error_kw_sum = f.sq_error_kw_sum + EXCLUDED.sq_error_kw_sum;
    DELETE FROM forecast_accuracy_fleet_daily f
    USING (SELECT DISTINCT day, horizon_h FROM unnest(changed)) c
    WHERE f.day = c.day AND f.horizon_h = c.horizon_h AND f.sites <= 0;
$$;

-- Triggers: the generic delta functions of migration 0180.
CREATE TRIGGER forecast_accuracy_daily_fleet_ins AFTER INSERT ON forecast_accuracy_daily REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_accuracy_fleet_apply');
CREATE TRIGGER forecast_accuracy_daily_fleet_upd AFTER UPDATE ON forecast_accuracy_daily REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_accuracy_fleet_apply');
CREATE TRIGGER forecast_accuracy_daily_fleet_del AFTER DELETE ON forecast_accuracy_daily REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_accuracy_fleet_apply');
CREATE TRIGGER forecast_accuracy_daily_fleet_truncate AFTER TRUNCATE ON forecast_accuracy_daily
    FOR EACH STATEMENT EXECUTE FUNCTION helios_truncate_derived('forecast_accuracy_fleet_daily');

-- Existing rows.
INSERT INTO forecast_accuracy_fleet_daily (day, horizon_h, sites, targets, in_band_targets, error_kw_sum,
                                           abs_error_kw_sum, sq_error_kw_sum)
SELECT day, horizon_h, count(*), sum(targets), sum(in_band_targets), sum(error_kw_sum), sum(abs_error_kw_sum),
       sum(sq_error_kw_sum)
FROM forecast_accuracy_daily GROUP BY day, horizon_h;

-- Ratios of the sums (kW; coverage 0..1); Power BI measures re-aggregate the sums, never the ratios.
CREATE VIEW bi.forecast_accuracy_fleet_daily AS
SELECT day, horizon_h, sites, targets, in_band_targets, error_kw_sum, abs_error_kw_sum, sq_error_kw_sum,
       abs_error_kw_sum / nullif(targets, 0) AS mae_kw,
       sqrt(greatest(sq_error_kw_sum, 0) / nullif(targets, 0)) AS rmse_kw,
       error_kw_sum / nullif(targets, 0) AS bias_kw,
       in_band_targets::double precision / nullif(targets, 0) AS coverage
FROM forecast_accuracy_fleet_daily;
COMMENT ON VIEW bi.forecast_accuracy_fleet_daily IS
    'Forecast error sums (kW, kW²) and P10-P90 coverage counts of the whole fleet per UTC target day and horizon hour.';
GRANT SELECT ON bi.forecast_accuracy_fleet_daily TO helios_bi_reader;
