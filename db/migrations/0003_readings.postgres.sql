-- Raw sensor readings on plain PostgreSQL: native range partitioning by time (one partition a
-- day, like TimescaleDB's 1-day chunks), idempotent on (device_id, ts). Partitions are created
-- on demand by helios_ensure_partitions(); statement triggers record which (device, 15-min
-- bucket) pairs changed so that the rollups can be refreshed incrementally.
CREATE TABLE readings (
    device_id        text NOT NULL,
    ts               timestamptz NOT NULL,
    site_id          text NOT NULL,
    ghi_w_m2         double precision,
    poa_w_m2         double precision,
    ambient_temp_c   double precision,
    module_temp_c    double precision,
    dc_power_kw      double precision,
    ac_power_kw      double precision,
    inverter_status  text CHECK (inverter_status IN ('ok', 'standby', 'fault', 'off')),
    seq              bigint NOT NULL,
    ingested_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX readings_site_ts_idx ON readings (site_id, ts DESC);
COMMENT ON TABLE readings IS 'Raw sensor readings (contract v1). Power kW, irradiance W/m², temperature °C.';

-- Which relations are partitioned, and by what unit ('day', 'month', 'year'; UTC boundaries).
CREATE TABLE helios_partitioning (
    relation        text PRIMARY KEY,
    partition_unit  text NOT NULL CHECK (partition_unit IN ('day', 'month', 'year'))
);
INSERT INTO helios_partitioning VALUES ('readings', 'day');

-- Create the missing partitions of `relation` covering [from_ts, to_ts]. Cheap when they all
-- exist (no lock taken); creation is serialised by an advisory lock.
CREATE FUNCTION helios_ensure_partitions(relation text, from_ts timestamptz, to_ts timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    unit     text;
    step     interval;
    fmt      text;
    lo       timestamptz;
    part     text;
    created  integer := 0;
BEGIN
    SELECT partition_unit INTO unit FROM helios_partitioning p WHERE p.relation = helios_ensure_partitions.relation;
    IF unit IS NULL THEN
        RAISE EXCEPTION 'relation % is not partitioned by HeliosGrid', relation;
    END IF;
    step := ('1 ' || unit)::interval;
    fmt := CASE unit WHEN 'day' THEN 'YYYYMMDD' WHEN 'month' THEN 'YYYYMM' ELSE 'YYYY' END;
    lo := date_trunc(unit, from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE lo <= to_ts LOOP
        part := relation || '_p' || to_char(lo AT TIME ZONE 'UTC', fmt);
        IF to_regclass(part) IS NULL THEN
            PERFORM pg_advisory_xact_lock(hashtext('helios_ensure_partitions'));
            IF to_regclass(part) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               part, relation, lo, lo + step);
                created := created + 1;
            END IF;
        END IF;
        lo := lo + step;
    END LOOP;
    RETURN created;
END $$;

-- Invalidation log: (device, 15-min bucket) pairs whose raw rows changed since the last refresh.
CREATE TABLE rollup_invalidations (
    device_id   text NOT NULL,
    bucket      timestamptz NOT NULL,
    PRIMARY KEY (device_id, bucket)
);

CREATE FUNCTION helios_mark_new_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_invalidations (device_id, bucket)
    SELECT DISTINCT device_id, time_bucket(INTERVAL '15 minutes', ts) FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION helios_mark_old_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_invalidations (device_id, bucket)
    SELECT DISTINCT device_id, time_bucket(INTERVAL '15 minutes', ts) FROM old_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER readings_invalidate_insert AFTER INSERT ON readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION helios_mark_new_rows();
CREATE TRIGGER readings_invalidate_update AFTER UPDATE ON readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION helios_mark_new_rows();
CREATE TRIGGER readings_invalidate_update_old AFTER UPDATE ON readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION helios_mark_old_rows();
CREATE TRIGGER readings_invalidate_delete AFTER DELETE ON readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION helios_mark_old_rows();
