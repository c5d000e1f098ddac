-- Backend: TimescaleDB. Loads the extension; everything time-series builds on it.
CREATE EXTENSION IF NOT EXISTS timescaledb;
