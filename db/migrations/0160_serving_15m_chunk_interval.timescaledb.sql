-- Backend: TimescaleDB. 30-day chunks for the site and fleet 15-min aggregates (issue 16, ADR 0330).
-- Created with the hypertable default of 10 days, a year of site rows is 37 chunks: the issue's
-- literal monthly energy per site over 365 days from bi.site_power_15m planned 37 chunk scans
-- (10.7 ms of planning; 1 ms on plain PostgreSQL) and ran 37 partial aggregates. The bench's
-- 10-site year copied into hypertables differing only in chunk interval, warm p50 over 25 runs
-- (bench.bi._measure): 10 days 70-72 ms, 30 days 61-62 ms; 90 days was no better than 30.
-- 30 days also keeps a chunk of a large fleet bounded (2 000 sites: 5.8 M rows, under 1 GB with
-- its indexes), which 90 days would not.
-- Applies to chunks created from now on; existing chunks keep their interval (no rewrite).
SELECT set_chunk_time_interval('site_rollup_15m', INTERVAL '30 days');
SELECT set_chunk_time_interval('fleet_rollup_15m', INTERVAL '30 days');
