-- Backend: TimescaleDB. The site and fleet 15-min aggregates serve materialised rows only (ADR 0290).
-- Read through their real-time union (materialised chunks UNION ALL the device rows above the
-- watermark) the planner hides the column and expression statistics of 0142 and aggregates above
-- the union, serially: the issue's literal monthly energy per site over 365 days took 128-137 ms
-- on a quiet machine (10 sites), 77-87 ms on the materialised rows alone (parallel, a partial
-- aggregate per chunk).
-- Freshness is kept by materialising the newest buckets, partial ones included, instead of
-- computing them per query:
--   * the consumer force-refreshes both aggregates over the last hour up to now every
--     consumer_rollup_refresh_interval_s after writes (heliosgrid.db.serving.refresh_serving_tail),
--     as it refreshes the rollup tables on plain PostgreSQL: the newest bucket trails committed
--     readings by about one interval plus one refresh on both backends;
--   * their policies refresh up to now (end_offset NULL instead of 15 minutes), every 5 minutes:
--     without a consumer (direct writes) the newest buckets appear within 5 minutes. Raw rows that
--     arrive later for an already materialised bucket reach it when readings_15m materialises the
--     bucket (its own policy, end offset 15 min): that logs an invalidation the next run applies.
-- The device aggregates (readings_15m/1h/1d) and the 1-h/1-day site and fleet aggregates keep
-- real-time aggregation and their policies.
-- Policies first, then the views: removing a policy waits for its running job, and the migration
-- must not hold the aggregate's relations while it waits (the job needs them: deadlock).
SELECT remove_continuous_aggregate_policy('site_rollup_15m', if_exists => true);
SELECT add_continuous_aggregate_policy('site_rollup_15m', start_offset => INTERVAL '7 days',
    end_offset => NULL, schedule_interval => INTERVAL '5 minutes');
SELECT remove_continuous_aggregate_policy('fleet_rollup_15m', if_exists => true);
SELECT add_continuous_aggregate_policy('fleet_rollup_15m', start_offset => INTERVAL '7 days',
    end_offset => NULL, schedule_interval => INTERVAL '5 minutes');

ALTER MATERIALIZED VIEW site_rollup_15m SET (timescaledb.materialized_only = true);
ALTER MATERIALIZED VIEW fleet_rollup_15m SET (timescaledb.materialized_only = true);
