-- Both backends. Privileges of the application role helios_app (API, consumer, producer, DAGs),
-- when the deployment created it (docker-compose: deploy/timescaledb-init/10-helios-app-role.sh).
-- Data access only: no superuser, no DDL, no role management. Tables created by later
-- migrations get the same privileges through the default privileges of the migrating role.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'helios_app') THEN
        EXECUTE 'GRANT CONNECT ON DATABASE ' || quote_ident(current_database()) || ' TO helios_app';
        GRANT USAGE ON SCHEMA public TO helios_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO helios_app;
        GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO helios_app;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO helios_app;
        GRANT USAGE ON SCHEMA bi TO helios_app;
        GRANT SELECT ON ALL TABLES IN SCHEMA bi TO helios_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO helios_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO helios_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA bi GRANT SELECT ON TABLES TO helios_app;
    END IF;
END
$$;
