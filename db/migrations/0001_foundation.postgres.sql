-- Backend: plain PostgreSQL. Provides time_bucket() with TimescaleDB's semantics for fixed
-- intervals (origin 2000-01-03 00:00 UTC, a Monday) so that SQL written against buckets is
-- portable between the two backends, and the policy catalogue used by retention.
CREATE FUNCTION time_bucket(bucket_width interval, ts timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT date_bin(bucket_width, ts, TIMESTAMPTZ '2000-01-03 00:00:00+00')
$$;
