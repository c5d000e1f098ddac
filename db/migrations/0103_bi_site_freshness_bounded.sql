-- bi.site_freshness (0055) found each site's newest reading with a backward scan ordered by ts.
-- On TimescaleDB the planner serves that order from readings_ts_idx (ts DESC, all sites) with a
-- site filter, chunk by chunk (ChunkAppend ordered by time): it reads every newer row of every
-- other site, and a site that stopped reporting scans the whole raw history (465 ms for 5 sites
-- over a year of chunks). Now the search starts at the site's newest 15-min bucket in the
-- serving layer (site_rollup_15m: one index probe; on TimescaleDB the real-time aggregate
-- includes buckets not materialised yet), so only raw rows at or after that bucket are read and
-- older chunks/partitions are excluded at run time. Readings newer than the last refresh are
-- still found (no upper bound). A site with no rollup bucket yet searches its whole history, as
-- before. Same columns and semantics as 0055 (newest measurement, and when it was stored).
CREATE OR REPLACE VIEW bi.site_freshness AS
SELECT s.site_id,
       newest.ts AS last_reading_ts,
       newest.ingested_at AS last_ingested_at
FROM sites s
CROSS JOIN LATERAL (
    SELECT coalesce(max(b.bucket), '-infinity'::timestamptz) AS since
    FROM site_rollup_15m b
    WHERE b.site_id = s.site_id
) last_bucket
LEFT JOIN LATERAL (
    SELECT r.ts, r.ingested_at
    FROM readings r
    WHERE r.site_id = s.site_id AND r.ts >= last_bucket.since
    ORDER BY r.ts DESC, r.ingested_at DESC
    LIMIT 1
) newest ON TRUE;
