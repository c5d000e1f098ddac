-- Backend: plain PostgreSQL. Nothing to change (ADR 0290): site_rollup_15m and fleet_rollup_15m
-- are tables already, refreshed by helios_refresh_rollups() from the consumer within seconds.
-- The TimescaleDB variant makes the continuous aggregates of the same names serve materialised
-- rows only, kept fresh the same way.
SELECT 1;
