-- Forecast accuracy pre-grouped per site, UTC day of the target and whole hour of horizon (issue 16).
-- The accuracy visuals (error by horizon, coverage and error by site, the MAE/RMSE/bias cards)
-- aggregated one forecast_accuracy_15m row per site and 15-min target: 57 600 rows for 30 days
-- of a 20-site fleet, 100-230 ms per visual, growing with the fleet. Every one of those
-- statistics is a ratio of sums, so a table of sums per (site, day, horizon hour) answers them
-- exactly, with at most 24 rows per site-day for day-ahead issues (48 for 48-hour horizons).
--
-- forecast_accuracy_daily, same table on both backends (forecast_accuracy_15m is a plain table
-- on both). Columns:
--   site_id, day (UTC date of target_ts), horizon_h (horizon_min / 60, truncated to whole hours)
--   targets            15-min targets with a measured actual (actual_kw not null)
--   in_band_targets    of those, actual inside [p10_kw, p90_kw]
--   error_kw_sum       Σ (p50_kw - actual_kw), kW          (bias = error_kw_sum / targets)
--   abs_error_kw_sum   Σ |p50_kw - actual_kw|, kW         (MAE  = abs_error_kw_sum / targets)
--   sq_error_kw_sum    Σ (p50_kw - actual_kw)², kW²       (RMSE = sqrt(sq_error_kw_sum / targets))
-- Refresh: statement triggers on forecast_accuracy_15m regroup every (site, UTC day) whose rows
-- were inserted, updated or deleted. helios_refresh_forecast_accuracy() rewrites exactly the keys
-- that changed (late actuals of any age on PostgreSQL, the job/explicit window on TimescaleDB,
-- re-issued forecasts), so the grouped rows follow it in the same transaction.

CREATE TABLE forecast_accuracy_daily (
    site_id          text NOT NULL,
    day              date NOT NULL,
    horizon_h        integer NOT NULL,
    targets          bigint NOT NULL,
    in_band_targets  bigint NOT NULL,
    error_kw_sum     double precision NOT NULL,
    abs_error_kw_sum double precision NOT NULL,
    sq_error_kw_sum  double precision NOT NULL,
    PRIMARY KEY (site_id, day, horizon_h)
);
-- Accuracy visuals filter a day range over all sites: index-only scans.
CREATE INDEX forecast_accuracy_daily_day_idx ON forecast_accuracy_daily (day)
    INCLUDE (site_id, horizon_h, targets, in_band_targets, error_kw_sum, abs_error_kw_sum, sq_error_kw_sum);

CREATE FUNCTION helios_regroup_forecast_accuracy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM forecast_accuracy_daily g
    USING (SELECT DISTINCT site_id, (target_ts AT TIME ZONE 'UTC')::date AS day FROM changed) d
    WHERE g.site_id = d.site_id AND g.day = d.day;
    INSERT INTO forecast_accuracy_daily (site_id, day, horizon_h, targets, in_band_targets, error_kw_sum,
                                         abs_error_kw_sum, sq_error_kw_sum)
    SELECT a.site_id, d.day, a.horizon_min / 60,
           count(a.actual_kw),
           count(*) FILTER (WHERE a.actual_kw BETWEEN a.p10_kw AND a.p90_kw),
           coalesce(sum(a.p50_kw - a.actual_kw), 0),
           coalesce(sum(abs(a.p50_kw - a.actual_kw)), 0),
           coalesce(sum((a.p50_kw - a.actual_kw) ^ 2), 0)
    FROM (SELECT DISTINCT site_id, (target_ts AT TIME ZONE 'UTC')::date AS day FROM changed) d
    JOIN forecast_accuracy_15m a ON a.site_id = d.site_id
        AND a.target_ts >= d.day::timestamp AT TIME ZONE 'UTC'
        AND a.target_ts < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY a.site_id, d.day, a.horizon_min / 60;
    RETURN NULL;
END $$;
CREATE TRIGGER forecast_accuracy_15m_regroup_ins AFTER INSERT ON forecast_accuracy_15m
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_regroup_forecast_accuracy();
CREATE TRIGGER forecast_accuracy_15m_regroup_del AFTER DELETE ON forecast_accuracy_15m
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_regroup_forecast_accuracy();
CREATE TRIGGER forecast_accuracy_15m_regroup_upd AFTER UPDATE ON forecast_accuracy_15m
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION helios_regroup_forecast_accuracy();

-- Existing accuracy rows (a database migrated with data).
INSERT INTO forecast_accuracy_daily (site_id, day, horizon_h, targets, in_band_targets, error_kw_sum, abs_error_kw_sum,
                                     sq_error_kw_sum)
SELECT site_id, (target_ts AT TIME ZONE 'UTC')::date, horizon_min / 60,
       count(actual_kw),
       count(*) FILTER (WHERE actual_kw BETWEEN p10_kw AND p90_kw),
       coalesce(sum(p50_kw - actual_kw), 0),
       coalesce(sum(abs(p50_kw - actual_kw)), 0),
       coalesce(sum((p50_kw - actual_kw) ^ 2), 0)
FROM forecast_accuracy_15m
GROUP BY 1, 2, 3;

-- Ratios of the sums (kW; coverage 0..1); Power BI measures re-aggregate the sums, never the ratios.
CREATE VIEW bi.forecast_accuracy_daily AS
SELECT site_id, day, horizon_h, targets, in_band_targets, error_kw_sum, abs_error_kw_sum, sq_error_kw_sum,
       abs_error_kw_sum / nullif(targets, 0) AS mae_kw,
       sqrt(sq_error_kw_sum / nullif(targets, 0)) AS rmse_kw,
       error_kw_sum / nullif(targets, 0) AS bias_kw,
       in_band_targets::double precision / nullif(targets, 0) AS coverage
FROM forecast_accuracy_daily;
COMMENT ON VIEW bi.forecast_accuracy_daily IS
    'Forecast error sums (kW, kW²) and P10-P90 coverage counts per site, UTC target day and horizon hour '
    '(materialised from forecast_accuracy_15m).';
GRANT SELECT ON bi.forecast_accuracy_daily TO helios_bi_reader;
