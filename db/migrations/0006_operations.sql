-- Operational tables shared by ingest, quality, forecasting, maintenance and the API.

-- Rejected messages: nothing is lost; the raw bytes and why they were refused.
CREATE TABLE quarantine (
    quarantine_id    bigserial PRIMARY KEY,
    received_at      timestamptz NOT NULL DEFAULT now(),
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    message_key      text,
    raw_payload      bytea NOT NULL,
    reason_code      text NOT NULL,
    reason_detail    text NOT NULL,
    UNIQUE (source_topic, source_partition, source_offset)
);
CREATE INDEX quarantine_reason_idx ON quarantine (reason_code, received_at DESC);

-- Liveness of every component (producer, consumer instances, DAGs); freshness checks read it.
CREATE TABLE heartbeats (
    component     text NOT NULL,
    instance      text NOT NULL,
    last_beat_at  timestamptz NOT NULL DEFAULT now(),
    status        text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'degraded', 'stopping', 'failed')),
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (component, instance)
);

-- Data-quality results: one row per check, scope (site or device) and window.
CREATE TABLE dq_results (
    check_name      text NOT NULL,
    site_id         text NOT NULL,
    device_id       text NOT NULL DEFAULT '',
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    passed          boolean NOT NULL,
    measured_value  double precision,
    threshold       double precision,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    run_id          text,
    checked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (check_name, site_id, device_id, window_start, window_end),
    CHECK (window_end > window_start)
);
CREATE INDEX dq_results_site_time_idx ON dq_results (site_id, window_end DESC);
COMMENT ON COLUMN dq_results.device_id IS 'Empty string for site-level checks.';

-- Model registry: every trained model version, its evidence, and which one is champion.
CREATE TABLE models (
    model_version   text PRIMARY KEY,
    site_id         text NOT NULL REFERENCES sites(site_id) ON DELETE CASCADE,
    model_name      text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,
    trained_at      timestamptz NOT NULL DEFAULT now(),
    train_start     timestamptz NOT NULL,
    train_end       timestamptz NOT NULL,
    data_hash       text NOT NULL,
    metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
    artifact_path   text,
    is_champion     boolean NOT NULL DEFAULT false,
    promoted_at     timestamptz
);
CREATE UNIQUE INDEX models_one_champion_per_site ON models (site_id) WHERE is_champion;

-- Forecasts: P10/P50/P90 of site AC power (kW) per 15-min target time, per issue time.
CREATE TABLE forecasts (
    site_id        text NOT NULL REFERENCES sites(site_id) ON DELETE CASCADE,
    model_version  text NOT NULL,
    issued_at      timestamptz NOT NULL,
    target_ts      timestamptz NOT NULL,
    horizon_min    integer NOT NULL CHECK (horizon_min >= 0),
    p10_kw         double precision NOT NULL CHECK (p10_kw >= 0),
    p50_kw         double precision NOT NULL,
    p90_kw         double precision NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, model_version, issued_at, target_ts),
    CHECK (p10_kw <= p50_kw AND p50_kw <= p90_kw)
);
CREATE INDEX forecasts_site_target_idx ON forecasts (site_id, target_ts, issued_at DESC);

-- Alerts from maintenance detectors, data quality and pipeline supervision.
CREATE TABLE alerts (
    alert_id            bigserial PRIMARY KEY,
    site_id             text NOT NULL,
    device_id           text NOT NULL DEFAULT '',
    source              text NOT NULL CHECK (source IN ('maintenance', 'quality', 'pipeline', 'forecast')),
    fault_type          text NOT NULL,
    severity            text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state               text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    started_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    ended_at            timestamptz,
    title               text NOT NULL,
    evidence            jsonb NOT NULL DEFAULT '{}'::jsonb,
    energy_lost_kwh     double precision NOT NULL DEFAULT 0 CHECK (energy_lost_kwh >= 0),
    revenue_lost        double precision NOT NULL DEFAULT 0 CHECK (revenue_lost >= 0),
    currency            text NOT NULL DEFAULT 'EUR',
    recommended_action  text NOT NULL DEFAULT '',
    acknowledged_by     text,
    acknowledged_at     timestamptz,
    resolved_by         text,
    resolved_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- One open (or acknowledged) alert per device and fault type: detectors update it in place.
CREATE UNIQUE INDEX alerts_one_active ON alerts (site_id, device_id, fault_type) WHERE state <> 'resolved';
CREATE INDEX alerts_state_time_idx ON alerts (state, started_at DESC);

-- Ground truth of injected faults (simulator), for evaluating the detectors.
CREATE TABLE fault_events (
    event_id     bigserial PRIMARY KEY,
    site_id      text NOT NULL,
    device_id    text NOT NULL,
    fault_type   text NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    params       jsonb NOT NULL DEFAULT '{}'::jsonb,
    source       text NOT NULL DEFAULT 'simulator',
    UNIQUE (device_id, fault_type, started_at)
);

-- Data-product catalogue (Data as a Product): one row per published product.
CREATE TABLE data_products (
    name             text PRIMARY KEY,
    version          text NOT NULL,
    title            text NOT NULL,
    description      text NOT NULL,
    owner            text NOT NULL,
    relation         text NOT NULL,
    contract_path    text NOT NULL,
    freshness_sla_s  integer NOT NULL CHECK (freshness_sla_s > 0),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- API keys, stored as SHA-256 hashes of the secret; scopes such as read, alerts:write, admin.
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    name          text NOT NULL,
    key_hash      text NOT NULL UNIQUE,
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
