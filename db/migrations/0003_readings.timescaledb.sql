-- Raw sensor readings: a hypertable chunked by day, idempotent on (device_id, ts).
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
);
SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 day'));
ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id',
    timescaledb.compress_orderby = 'ts DESC'
);
CREATE INDEX readings_site_ts_idx ON readings (site_id, ts DESC);
COMMENT ON TABLE readings IS 'Raw sensor readings (contract v1). Power kW, irradiance W/m², temperature °C.';
