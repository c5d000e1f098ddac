-- Data lifecycle catalogue. On TimescaleDB the policies themselves are TimescaleDB jobs
-- (add_retention_policy / add_compression_policy); this table mirrors what was set and when,
-- so both backends answer `heliosgrid retention show` from the same columns.
CREATE TABLE retention_policies (
    relation        text PRIMARY KEY CHECK (relation IN ('readings', 'readings_15m', 'readings_1h', 'readings_1d')),
    drop_after      interval CHECK (drop_after IS NULL OR drop_after > INTERVAL '0'),
    compress_after  interval CHECK (compress_after IS NULL OR compress_after > INTERVAL '0'),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text NOT NULL DEFAULT current_user
);
