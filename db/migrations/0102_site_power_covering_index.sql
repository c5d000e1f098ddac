-- One site's 15-min power over a long range (site-detail visual, a year = 35 040 buckets) read
-- the site_rollup_15m rows through the (site_id, bucket) key and then the heap: each site's rows
-- lie scattered among the other sites' (they are written bucket by bucket). A covering index
-- with the power and energy columns answers bi.site_power_15m's site filters with an index-only
-- scan. Same statement on both backends (on TimescaleDB it indexes the continuous aggregate's
-- materialisation hypertable, chunk by chunk).
CREATE INDEX site_rollup_15m_site_power_idx ON site_rollup_15m (site_id, bucket)
    INCLUDE (ac_power_kw, expected_ac_power_kw, energy_kwh);
