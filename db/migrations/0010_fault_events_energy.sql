-- Ground truth of injected faults: the true AC energy each fault cost (simulator, kWh), so
-- detector evaluations can compare estimated and true losses. NULL for events from sources
-- that do not know it (e.g. operator-entered faults). Written by the producer (upsert).
ALTER TABLE fault_events ADD COLUMN IF NOT EXISTS energy_lost_kwh double precision
    CHECK (energy_lost_kwh IS NULL OR energy_lost_kwh >= 0);
ALTER TABLE fault_events ADD COLUMN IF NOT EXISTS recorded_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN fault_events.energy_lost_kwh IS
    'True AC energy lost by this fault alone over its window (clean minus faulted), kWh; NULL if unknown.';
