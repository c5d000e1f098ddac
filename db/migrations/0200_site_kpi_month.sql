-- Site KPIs per site-local calendar month, kept on write from site_kpi_day (issue 16, ADR 0430).
-- Same statements on both backends (site_kpi_day is a plain table on both, migration 0071).
--
-- Year-long per-site visuals (specific yield by site, energy per site and month) summed a year of
-- site_kpi_day rows per query: sites × 365 rows, × 2.4–2.8 from 20 to 50 sites in the bench (site
-- ratio 2.5). Per month the same sums are sites × 12 rows.
--
-- * site_kpi_month: per (site, first day of the site-local month) the sums of site_kpi_day's additive
--   columns, the days summed, and capacity_kw_days = Σ dc_capacity_kw over those days (so that the
--   specific yield of any set of months is Σ energy / (Σ capacity_kw_days / Σ days)). NULL inputs
--   count as 0 (ratios are taken with nullif on the sums).
-- * Statement-level triggers on site_kpi_day (rewritten per site and day with DELETE + INSERT by
--   helios_refresh_kpi_days) add inserted rows and subtract deleted ones (an update: both), upserts
--   in key order; a month with no days left is removed; TRUNCATE empties it.

CREATE TABLE site_kpi_month (
    site_id                  text NOT NULL,
    month                    date NOT NULL,
    days                     integer NOT NULL,
    capacity_kw_days         double precision NOT NULL,
    energy_kwh               double precision NOT NULL,
    reference_energy_kwh     double precision NOT NULL,
    expected_dc_energy_kwh   double precision NOT NULL,
    expected_energy_kwh      double precision NOT NULL,
    lost_energy_kwh          double precision NOT NULL,
    poa_irradiation_kwh_m2   double precision NOT NULL,
    daylight_buckets         bigint NOT NULL,
    producing_buckets        bigint NOT NULL,
    PRIMARY KEY (site_id, month)
);
CREATE INDEX site_kpi_month_month_idx ON site_kpi_month (month, site_id);
COMMENT ON TABLE site_kpi_month IS 'site_kpi_day summed per site and site-local calendar month, kept on write (0200).';

CREATE FUNCTION helios_kpi_month_apply(changed site_kpi_day[], sign integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO site_kpi_month AS m (site_id, month, days, capacity_kw_days, energy_kwh, reference_energy_kwh,
                                     expected_dc_energy_kwh, expected_energy_kwh, lost_energy_kwh,
                                     poa_irradiation_kwh_m2, daylight_buckets, producing_buckets)
    SELECT r.site_id, date_trunc('month', r.day)::date, sign * count(*), sign * sum(coalesce(r.dc_capacity_kw, 0)),
           sign * sum(r.energy_kwh), sign * sum(coalesce(r.reference_energy_kwh, 0)),
           sign * sum(coalesce(r.expected_dc_energy_kwh, 0)), sign * sum(coalesce(r.expected_energy_kwh, 0)),
           sign * sum(coalesce(r.lost_energy_kwh, 0)), sign * sum(coalesce(r.poa_irradiation_kwh_m2, 0)),
           sign * sum(r.daylight_buckets), sign * sum(r.producing_buckets)
    FROM unnest(changed) r GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (site_id, month) DO UPDATE
    SET days = m.days + EXCLUDED.days, capacity_kw_days = m.capacity_kw_days + EXCLUDED.capacity_kw_days,
        energy_kwh = m.energy_kwh + EXCLUDED.energy_kwh,
        reference_energy_kwh = m.reference_energy_kwh + EXCLUDED.reference_energy_kwh,
        expected_dc_energy_kwh = m.expected_dc_energy_kwh + EXCLUDED.expected_dc_energy_kwh,
        expected_energy_kwh = m.expected_energy_kwh + EXCLUDED.expected_energy_kwh,
        lost_energy_kwh = m.lost_energy_kwh + EXCLUDED.lost_energy_kwh,
        poa_irradiation_kwh_m2 = m.poa_irradiation_kwh_m2 + EXCLUDED.poa_irradiation_kwh_m2,
        daylight_buckets = m.daylight_buckets + EXCLUDED.daylight_buckets,
        producing_buckets = m.producing_buckets + EXCLUDED.producing_buckets;
    DELETE FROM site_kpi_month m
    USING (SELECT DISTINCT site_id, date_trunc('month', day)::date AS month FROM unnest(changed)) c
    WHERE m.site_id = c.site_id AND m.month = c.month AND m.days <= 0;
$$;

-- Triggers: the generic delta functions of migration 0180.
CREATE TRIGGER site_kpi_day_month_ins AFTER INSERT ON site_kpi_day REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_kpi_month_apply');
CREATE TRIGGER site_kpi_day_month_upd AFTER UPDATE ON site_kpi_day REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_kpi_month_apply');
CREATE TRIGGER site_kpi_day_month_del AFTER DELETE ON site_kpi_day REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION helios_apply_transition_deltas('helios_kpi_month_apply');
CREATE TRIGGER site_kpi_day_month_truncate AFTER TRUNCATE ON site_kpi_day
    FOR EACH STATEMENT EXECUTE FUNCTION helios_truncate_derived('site_kpi_month');

-- Existing days.
SELECT helios_kpi_month_apply(coalesce(array_agg(d), '{}'), 1) FROM site_kpi_day d;

-- Monthly KPIs per site (site-local months): sums and their ratios; revenue at the site's tariff.
CREATE VIEW bi.site_kpi_monthly AS
SELECT k.site_id, k.month, k.days, k.energy_kwh, k.reference_energy_kwh, k.capacity_kw_days,
       k.energy_kwh / nullif(k.capacity_kw_days / nullif(k.days, 0), 0) AS specific_yield_kwh_kwp,
       k.energy_kwh / nullif(k.reference_energy_kwh, 0) AS performance_ratio,
       k.energy_kwh / nullif(k.expected_dc_energy_kwh, 0) AS performance_ratio_temp_corr,
       k.producing_buckets::double precision / nullif(k.daylight_buckets, 0) AS availability,
       k.expected_energy_kwh, k.lost_energy_kwh,
       k.energy_kwh * coalesce(s.tariff_per_kwh, 0) AS revenue,
       k.lost_energy_kwh * coalesce(s.tariff_per_kwh, 0) AS revenue_lost,
       k.daylight_buckets, k.producing_buckets
FROM site_kpi_month k
JOIN sites s ON s.site_id = k.site_id;
COMMENT ON VIEW bi.site_kpi_monthly IS 'KPIs per site and site-local calendar month (site_kpi_month, kept on write from site_kpi_day).';
GRANT SELECT ON bi.site_kpi_monthly TO helios_bi_reader;
