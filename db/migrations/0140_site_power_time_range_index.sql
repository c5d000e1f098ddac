-- All-sites time-range reads of site 15-min rows (issue 16): the monthly energy per site from
-- bi.site_power_15m (a year: one row per site and 15 min, 700 800 rows at 20 sites) and the fleet
-- total summed from the sites' 15-min power (30 days). Both scanned the whole site_rollup_15m
-- heap (14 columns, 100 MB for 20 sites × a year) or probed it through the (bucket) index.
-- A covering (bucket) INCLUDE (site_id, ac_power_kw, energy_kwh) index (39 MB) serves them with
-- index-only scans: 40 % less time for the same rows (measured in ADR 0240). It replaces the
-- plain (bucket) index of 0072 (PostgreSQL; TimescaleDB has none by that name). Same statement
-- on both backends: on TimescaleDB it indexes the continuous aggregate's materialisation
-- hypertable, chunk by chunk.
DROP INDEX IF EXISTS site_rollup_15m_bucket_idx;
CREATE INDEX site_rollup_15m_bucket_cover_idx ON site_rollup_15m (bucket)
    INCLUDE (site_id, ac_power_kw, energy_kwh);

-- The planner only picks that index-only scan over a sequential scan when random page reads are
-- priced as on SSD or cached data: with the default random_page_cost = 4 (spinning disks) the
-- 5 000 index pages cost more than the 12 700 heap pages read in order. The serving layer is
-- small and stays in memory; 1.1 is the usual setting for SSD storage (and Timescale's managed
-- default). Set for this database (new sessions); a role or server setting overrides it. Needs
-- the database owner or a superuser: otherwise a notice, and docs/dba.md says how to set it.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET random_page_cost = 1.1', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'random_page_cost not set for database %: not its owner (see docs/dba.md)', current_database();
END $$;
