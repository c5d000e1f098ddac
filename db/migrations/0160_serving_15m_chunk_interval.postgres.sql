-- Backend: plain PostgreSQL. Nothing to change: site_rollup_15m and fleet_rollup_15m are plain
-- tables there. The TimescaleDB variant gives the continuous aggregates of the same names
-- 30-day chunks (ADR 0330).
SELECT 1;
