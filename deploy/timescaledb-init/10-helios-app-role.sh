#!/bin/bash
# Runs once, when the TimescaleDB container initialises an empty data directory (as the admin
# role): creates the non-superuser application role the API, consumer, producer and DAGs use.
# Its privileges are granted by migration 0097 (run by the one-shot `migrate` service).
set -euo pipefail
: "${HELIOS_DATABASE_URL:?set HELIOS_DATABASE_URL in helios.env}"
password="${HELIOS_DATABASE_URL#*://helios_app:}"   # postgresql://helios_app:<password>@host:port/db
password="${password%%@*}"
if [[ -z "$password" || "$password" == "$HELIOS_DATABASE_URL" || "$password" == "<password>" ]]; then
  echo "HELIOS_DATABASE_URL in helios.env must be postgresql://helios_app:<password>@timescaledb:5432/heliosgrid" >&2
  exit 1
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     --set app_password="$password" <<'SQL'
SELECT format('CREATE ROLE helios_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L', :'app_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'helios_app') \gexec
SQL
