-- Backend: plain PostgreSQL. Grouping statistics for the site rollups (issue 16).
-- A report or a user's DirectQuery grouping site rows by site and month or day
-- (GROUP BY site_id, date_trunc('month', bucket)) was estimated at 70 000 groups for 260 real
-- ones (the planner multiplies per-column guesses): it chose a serial plan with a hash table
-- sized for 70 000 groups. Expression statistics (PostgreSQL 14+) give the true group count, so
-- the plan is parallel (partial aggregation in each worker): half the time on the same rows.
-- Autovacuum's ANALYZE keeps them current.
CREATE STATISTICS site_rollup_15m_month_stx (ndistinct) ON site_id, date_trunc('month', bucket) FROM site_rollup_15m;
CREATE STATISTICS site_rollup_15m_day_stx (ndistinct) ON site_id, date_trunc('day', bucket) FROM site_rollup_15m;
CREATE STATISTICS site_rollup_1h_month_stx (ndistinct) ON site_id, date_trunc('month', bucket) FROM site_rollup_1h;
CREATE STATISTICS site_rollup_1h_day_stx (ndistinct) ON site_id, date_trunc('day', bucket) FROM site_rollup_1h;
ANALYZE site_rollup_15m, site_rollup_1h;
