-- Backend: TimescaleDB. Nothing to do: the plain-PostgreSQL variant of this migration speeds up
-- helios_refresh_rollups(), which TimescaleDB does not use (continuous aggregates refresh
-- themselves). Kept as a pair so both backends share the migration numbering.
SELECT 1;
