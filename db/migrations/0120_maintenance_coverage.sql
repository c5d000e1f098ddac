-- Both backends. "Not evaluated: reason" per site/device/detector, written by every maintenance
-- run (heliosgrid.coverage.record_coverage, called by heliosgrid.maintenance.runner).
-- maintenance_runs: one row per site and data interval (idempotent: a re-run of the interval
-- replaces its rows). maintenance_not_evaluated: the detectors that could not run in that run and
-- why (interval too coarse, sensor missing, warm-up, model ratio too noisy). A detector with no row
-- in a site's latest run was evaluated. Rows older than 30 days are pruned by the writer.
CREATE TABLE maintenance_runs (
    site_id       text        NOT NULL REFERENCES sites(site_id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    run_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, window_end),
    CHECK (window_end > window_start)
);

CREATE TABLE maintenance_not_evaluated (
    site_id     text        NOT NULL,
    window_end  timestamptz NOT NULL,
    device_id   text        NOT NULL,
    detector    text        NOT NULL CHECK (detector ~ '^[a-z_]{1,64}$'),
    reason      text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    PRIMARY KEY (site_id, window_end, device_id, detector),
    FOREIGN KEY (site_id, window_end) REFERENCES maintenance_runs (site_id, window_end) ON DELETE CASCADE
);

-- The newest run of each site and what it could not evaluate (one row per device and detector;
-- a site whose newest run evaluated everything has no row here but one in maintenance_runs).
CREATE VIEW maintenance_coverage_current AS
SELECT r.site_id, n.device_id, n.detector, n.reason, r.window_start, r.window_end, r.run_at
FROM (SELECT DISTINCT ON (site_id) site_id, window_start, window_end, run_at
      FROM maintenance_runs ORDER BY site_id, window_end DESC) r
JOIN maintenance_not_evaluated n ON n.site_id = r.site_id AND n.window_end = r.window_end;

-- Power BI reads the same through the bi schema (helios_bi_reader has SELECT on bi by default
-- privileges, migration 0040; granted explicitly too in case another role owns the schema).
CREATE VIEW bi.maintenance_not_evaluated AS
SELECT site_id, device_id, detector, reason, window_start, window_end, run_at FROM maintenance_coverage_current;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'helios_bi_reader') THEN
        GRANT SELECT ON bi.maintenance_not_evaluated TO helios_bi_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'helios_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON maintenance_runs, maintenance_not_evaluated TO helios_app;
        GRANT SELECT ON maintenance_coverage_current, bi.maintenance_not_evaluated TO helios_app;
    END IF;
END
$$;
