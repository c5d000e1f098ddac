-- Data lifecycle catalogue on plain PostgreSQL: the policy table is the source of truth and
-- helios_apply_retention() enforces it by dropping whole partitions whose upper bound is at or
-- before now() - drop_after (TimescaleDB's drop_chunks semantics). Compression needs
-- TimescaleDB and is refused here.
CREATE TABLE retention_policies (
    relation        text PRIMARY KEY CHECK (relation IN ('readings', 'readings_15m', 'readings_1h', 'readings_1d')),
    drop_after      interval CHECK (drop_after IS NULL OR drop_after > INTERVAL '0'),
    compress_after  interval CHECK (compress_after IS NULL),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text NOT NULL DEFAULT current_user
);

CREATE FUNCTION helios_apply_retention(as_of timestamptz DEFAULT now())
RETURNS TABLE (relation text, dropped_partition text)
LANGUAGE plpgsql AS $$
DECLARE
    pol    record;
    part   record;
    upper_bound timestamptz;
BEGIN
    FOR pol IN SELECT p.relation, p.drop_after FROM retention_policies p WHERE p.drop_after IS NOT NULL LOOP
        FOR part IN
            SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = pol.relation::regclass
            ORDER BY c.relname
        LOOP
            upper_bound := substring(part.bound FROM 'TO \(''([^'']+)''\)')::timestamptz;
            IF upper_bound IS NOT NULL AND upper_bound <= as_of - pol.drop_after THEN
                EXECUTE format('DROP TABLE %I', part.name);
                relation := pol.relation;
                dropped_partition := part.name;
                RETURN NEXT;
            END IF;
        END LOOP;
    END LOOP;
END $$;
COMMENT ON FUNCTION helios_apply_retention(timestamptz) IS
    'Drops partitions entirely older than each relation''s drop_after; returns what was dropped.';
