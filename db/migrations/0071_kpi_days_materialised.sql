-- Site-local daily KPIs, materialised (both backends). The maintenance KPI views (0030) recompute
-- every site-local day from 15-min device rows on each query: a year of a 20-site fleet is 7 M
-- rows per query. device_kpi_day and site_kpi_day hold the additive inputs of the KPIs per
-- (site, site-local day [, inverter]), computed from maintenance_kpi_bucket (so the bucket-level
-- definitions — expected power, daylight, producing — stay in one place), and the bi views
-- (0073) derive the ratios. Refresh is incremental: kpi_day_invalidations lists the
-- (site, local day) pairs to recompute; helios_refresh_kpi_days() claims and recomputes them.
-- Who writes the list: on plain PostgreSQL the site-rollup refresh (0072), from the same
-- invalidation log that drives the device rollups, so late or corrected data of any age is
-- picked up; on TimescaleDB a job re-lists the days of the continuous-aggregate refresh window
-- (and heliosgrid.db.serving.refresh_serving_layer lists an explicit older window), as the
-- device continuous aggregates handle late data.

CREATE TABLE kpi_day_invalidations (
    site_id    text NOT NULL,
    day        date NOT NULL,
    logged_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kpi_day_invalidations_site_day_idx ON kpi_day_invalidations (site_id, day);

CREATE TABLE device_kpi_day (
    site_id                  text NOT NULL,
    device_id                text NOT NULL,
    day                      date NOT NULL,
    dc_capacity_kw           double precision,
    buckets                  bigint NOT NULL,
    energy_kwh               double precision NOT NULL,
    poa_irradiation_kwh_m2   double precision NOT NULL,
    reference_yield_h        double precision,
    reference_energy_kwh     double precision,
    expected_dc_energy_kwh   double precision,
    daylight_buckets         bigint NOT NULL,
    producing_buckets        bigint NOT NULL,
    expected_energy_kwh      double precision,
    lost_energy_kwh          double precision,
    refreshed_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, day, device_id)
);
CREATE INDEX device_kpi_day_device_day_idx ON device_kpi_day (device_id, day);
COMMENT ON TABLE device_kpi_day IS 'Additive daily KPI inputs per inverter and site-local day (kWh, kW, h); refreshed incrementally.';

CREATE TABLE site_kpi_day (
    site_id                  text NOT NULL,
    day                      date NOT NULL,
    inverters                bigint NOT NULL,
    dc_capacity_kw           double precision,
    energy_kwh               double precision NOT NULL,
    poa_irradiation_kwh_m2   double precision,
    reference_energy_kwh     double precision,
    expected_dc_energy_kwh   double precision,
    daylight_buckets         bigint NOT NULL,
    producing_buckets        bigint NOT NULL,
    expected_energy_kwh      double precision,
    lost_energy_kwh          double precision,
    refreshed_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, day)
);
CREATE INDEX site_kpi_day_day_idx ON site_kpi_day (day, site_id);
COMMENT ON TABLE site_kpi_day IS 'Additive daily KPI inputs per site and site-local day, sums of device_kpi_day; refreshed incrementally.';

-- List every (site, local day) overlapping [lo, hi) for recomputation (TimescaleDB job, explicit refresh).
CREATE FUNCTION helios_invalidate_kpi_days(lo timestamptz, hi timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO kpi_day_invalidations (site_id, day)
    SELECT s.site_id, d::date
    FROM sites s,
         generate_series((lo AT TIME ZONE s.timezone)::date, ((hi - INTERVAL '1 microsecond') AT TIME ZONE s.timezone)::date,
                         INTERVAL '1 day') AS d;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

CREATE FUNCTION helios_refresh_kpi_days() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n  integer;
    lo timestamptz;
    hi timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('helios_refresh_kpi_days'));
    CREATE TEMP TABLE IF NOT EXISTS _dirty_kpi_day (site_id text, day date, day_start timestamptz, day_end timestamptz) ON COMMIT DROP;
    TRUNCATE _dirty_kpi_day;
    WITH claimed AS (DELETE FROM kpi_day_invalidations RETURNING site_id, day)
    INSERT INTO _dirty_kpi_day
    SELECT DISTINCT c.site_id, c.day,
           (c.day::timestamp AT TIME ZONE s.timezone), ((c.day + 1)::timestamp AT TIME ZONE s.timezone)
    FROM claimed c JOIN sites s ON s.site_id = c.site_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    ANALYZE _dirty_kpi_day;
    SELECT min(d.day_start), max(d.day_end) INTO lo, hi FROM _dirty_kpi_day d;

    DELETE FROM device_kpi_day t USING _dirty_kpi_day d WHERE t.site_id = d.site_id AND t.day = d.day;
    -- Aggregate first, then keep the dirty days: joining on the computed local day per 15-min row
    -- would evaluate AT TIME ZONE for every (row, dirty day of the site) pair.
    INSERT INTO device_kpi_day (site_id, device_id, day, dc_capacity_kw, buckets, energy_kwh, poa_irradiation_kwh_m2,
                                reference_yield_h, reference_energy_kwh, expected_dc_energy_kwh, daylight_buckets,
                                producing_buckets, expected_energy_kwh, lost_energy_kwh)
    SELECT a.site_id, a.device_id, a.local_day, a.dc_capacity_kw, a.buckets, a.energy_kwh, a.poa_irradiation_kwh_m2,
           a.reference_yield_h, a.reference_energy_kwh, a.expected_dc_energy_kwh, a.daylight_buckets,
           a.producing_buckets, a.expected_energy_kwh, a.lost_energy_kwh
    FROM (
        SELECT b.site_id, b.device_id, b.local_day,
               max(b.dc_capacity_kw) AS dc_capacity_kw,
               count(*) AS buckets,
               coalesce(sum(b.energy_kwh), 0) AS energy_kwh,
               coalesce(sum(b.poa_irradiation_kwh_m2), 0) AS poa_irradiation_kwh_m2,
               sum(b.reference_yield_h) AS reference_yield_h,
               max(b.dc_capacity_kw) * sum(b.reference_yield_h) AS reference_energy_kwh,
               sum(b.expected_dc_energy_kwh) AS expected_dc_energy_kwh,
               count(*) FILTER (WHERE b.daylight) AS daylight_buckets,
               count(*) FILTER (WHERE b.producing) AS producing_buckets,
               sum(b.expected_ac_energy_kwh) AS expected_energy_kwh,
               greatest(0, sum(b.expected_ac_energy_kwh) - coalesce(sum(b.energy_kwh), 0)) AS lost_energy_kwh
        FROM maintenance_kpi_bucket b
        WHERE b.bucket >= lo AND b.bucket < hi AND b.site_id IN (SELECT DISTINCT x.site_id FROM _dirty_kpi_day x)
        GROUP BY b.site_id, b.device_id, b.local_day) a
    JOIN _dirty_kpi_day d ON d.site_id = a.site_id AND d.day = a.local_day;

    DELETE FROM site_kpi_day t USING _dirty_kpi_day d WHERE t.site_id = d.site_id AND t.day = d.day;
    INSERT INTO site_kpi_day (site_id, day, inverters, dc_capacity_kw, energy_kwh, poa_irradiation_kwh_m2,
                              reference_energy_kwh, expected_dc_energy_kwh, daylight_buckets, producing_buckets,
                              expected_energy_kwh, lost_energy_kwh)
    SELECT k.site_id, k.day, count(*), sum(k.dc_capacity_kw), sum(k.energy_kwh), avg(k.poa_irradiation_kwh_m2),
           sum(k.reference_energy_kwh), sum(k.expected_dc_energy_kwh), sum(k.daylight_buckets), sum(k.producing_buckets),
           sum(k.expected_energy_kwh), sum(k.lost_energy_kwh)
    FROM device_kpi_day k JOIN _dirty_kpi_day d ON d.site_id = k.site_id AND d.day = k.day
    GROUP BY k.site_id, k.day;
    RETURN n;
END $$;
COMMENT ON FUNCTION helios_refresh_kpi_days() IS
    'Recompute device_kpi_day/site_kpi_day for the listed (site, local day) pairs; returns how many site-days.';
