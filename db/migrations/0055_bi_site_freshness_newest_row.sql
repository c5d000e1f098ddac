-- bi.site_freshness read every reading of a site: max(ingested_at) per site has no index, so
-- each call (every /v1/quality/freshness and dashboard refresh) scanned the site's whole
-- history, and 14 concurrent calls held the API's connection pool for seconds (issue 11 #10).
--
-- Now the view reads one row per site: the newest reading by measurement time, found by a
-- backward scan of readings_site_ts_idx (site_id, ts DESC). `last_ingested_at` is the time that
-- newest measurement was stored (its pipeline arrival), no longer the latest ingestion of any
-- older row (a backfill of old data does not make a site look fresh). Same columns, same
-- grants (CREATE OR REPLACE keeps them); identical SQL on PostgreSQL and TimescaleDB.
CREATE OR REPLACE VIEW bi.site_freshness AS
SELECT s.site_id,
       newest.ts AS last_reading_ts,
       newest.ingested_at AS last_ingested_at
FROM sites s
LEFT JOIN LATERAL (
    SELECT r.ts, r.ingested_at
    FROM readings r
    WHERE r.site_id = s.site_id
    ORDER BY r.ts DESC, r.ingested_at DESC
    LIMIT 1
) newest ON TRUE;
