-- bi.site_freshness (0055) found each site's newest reading with a backward scan ordered by ts
-- over the whole raw history. On TimescaleDB the planner serves that order with an ordered
-- ChunkAppend over every chunk (plan and run-time exclusion work per chunk: 465 ms for 5 sites
-- when the raw table held a year of daily chunks), and a site that stopped reporting is scanned
-- back through every newer row of the other sites. Now the search looks first at the last day
-- (now() - 1 day: chunks/partitions before it are excluded), and only for a site with no reading
-- in that day falls back to the whole history (the branch is gated on the first one finding
-- nothing, so live sites never run it). Same columns and semantics as 0055: the newest
-- measurement, and when it was stored.
CREATE OR REPLACE VIEW bi.site_freshness AS
SELECT s.site_id,
       coalesce(recent.ts, older.ts) AS last_reading_ts,
       CASE WHEN recent.ts IS NOT NULL THEN recent.ingested_at ELSE older.ingested_at END AS last_ingested_at
FROM sites s
LEFT JOIN LATERAL (
    SELECT r.ts, r.ingested_at
    FROM readings r
    WHERE r.site_id = s.site_id AND r.ts >= now() - INTERVAL '1 day'
    ORDER BY r.ts DESC, r.ingested_at DESC
    LIMIT 1
) recent ON TRUE
LEFT JOIN LATERAL (
    SELECT r.ts, r.ingested_at
    FROM readings r
    WHERE recent.ts IS NULL AND r.site_id = s.site_id
    ORDER BY r.ts DESC, r.ingested_at DESC
    LIMIT 1
) older ON TRUE;
