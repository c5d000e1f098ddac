-- Both backends. One row that identifies this database, created with it. The producer keys its
-- resume checkpoint to instance_id (producer/service.py, database_identity): a checkpoint written
-- while feeding another database — or this name before it was dropped and re-created — does not
-- apply, so a new, empty database gets its demo history (issue 11 #12).
CREATE TABLE helios_instance (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    instance_id uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO helios_instance DEFAULT VALUES;
