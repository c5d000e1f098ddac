-- Maintenance KPIs per inverter and per site and site-local day, as plain views over the
-- readings_15m rollup (a continuous aggregate on TimescaleDB, a table on PostgreSQL: views on
-- top work on both). Day = the site's local calendar day (sites.timezone) of the bucket start.
--
-- Per 15-minute bucket b of an inverter (G = poa_w_m2_avg, Tm = module_temp_c_avg):
--   reference yield        Yr  = G·0.25 h / 1000 W/m²                       (h, "peak sun hours")
--   cell temperature       Tc  = Tm + 3 °C · G / 1000                         (SAPM back-sheet → cell)
--   expected DC energy     Edc = Pdc0 · G/1000 · (1 + γ·(Tc − 25)) · 0.25 h  (PVWatts, kWh)
--   expected AC energy     Eac = min(Pac0, Edc/0.25 h · η) · 0.25 h          (nominal efficiency, clipping)
-- KPIs per day (sums over the day's buckets):
--   energy_kwh                      measured AC energy
--   specific_yield_kwh_kwp          energy_kwh / Pdc0                                    (= final yield Yf)
--   performance_ratio               Yf / Yr                                              (IEC 61724-1 PR)
--   performance_ratio_temp_corr     energy_kwh / Σ Edc                                   (PR corrected to 25 °C cells)
--   availability                    daylight buckets producing / daylight buckets, daylight = G ≥ 50 W/m²,
--                                   producing = AC > 0 and at least one 'ok' status sample; buckets with no
--                                   data at all (communication gaps) are unknown and not counted
--   expected_energy_kwh             Σ Eac  (SQL approximation of the pvlib model used by the detectors)
--   lost_energy_kwh                 max(0, expected_energy_kwh − energy_kwh)
-- Weather stations are excluded (no power path).

CREATE VIEW maintenance_kpi_bucket AS
SELECT
    r.site_id,
    r.device_id,
    r.bucket,
    (r.bucket AT TIME ZONE s.timezone)::date AS local_day,
    d.dc_capacity_kw,
    d.ac_capacity_kw,
    r.energy_kwh,
    r.poa_irradiation_kwh_m2,
    coalesce(r.poa_w_m2_avg, 0) * 0.25 / 1000.0 AS reference_yield_h,
    d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) / 1000.0
        * (1 + d.gamma_pdc_per_c * (coalesce(r.module_temp_c_avg, 25) + 3.0 * coalesce(r.poa_w_m2_avg, 0) / 1000.0 - 25))
        * 0.25 AS expected_dc_energy_kwh,
    least(
        d.ac_capacity_kw,
        d.dc_capacity_kw * coalesce(r.poa_w_m2_avg, 0) / 1000.0
            * (1 + d.gamma_pdc_per_c * (coalesce(r.module_temp_c_avg, 25) + 3.0 * coalesce(r.poa_w_m2_avg, 0) / 1000.0 - 25))
            * d.inverter_efficiency
    ) * 0.25 AS expected_ac_energy_kwh,
    (coalesce(r.poa_w_m2_avg, 0) >= 50) AS daylight,
    (coalesce(r.poa_w_m2_avg, 0) >= 50 AND coalesce(r.ac_power_kw_avg, 0) > 0 AND r.status_ok_count > 0) AS producing
FROM readings_15m r
JOIN devices d ON d.device_id = r.device_id AND d.kind = 'inverter'
JOIN sites s ON s.site_id = r.site_id;
COMMENT ON VIEW maintenance_kpi_bucket IS 'Per inverter 15-min bucket: inputs of the daily KPIs (see migration 0030).';

CREATE VIEW maintenance_kpi_device_day AS
SELECT
    site_id,
    device_id,
    local_day,
    max(dc_capacity_kw) AS dc_capacity_kw,
    count(*) AS buckets,
    coalesce(sum(energy_kwh), 0) AS energy_kwh,
    coalesce(sum(poa_irradiation_kwh_m2), 0) AS poa_irradiation_kwh_m2,
    sum(reference_yield_h) AS reference_yield_h,
    coalesce(sum(energy_kwh), 0) / nullif(max(dc_capacity_kw), 0) AS specific_yield_kwh_kwp,
    coalesce(sum(energy_kwh), 0) / nullif(max(dc_capacity_kw), 0) / nullif(sum(reference_yield_h), 0) AS performance_ratio,
    coalesce(sum(energy_kwh), 0) / nullif(sum(expected_dc_energy_kwh), 0) AS performance_ratio_temp_corr,
    sum(expected_dc_energy_kwh) AS expected_dc_energy_kwh,
    count(*) FILTER (WHERE daylight) AS daylight_buckets,
    count(*) FILTER (WHERE producing) AS producing_buckets,
    (count(*) FILTER (WHERE producing))::double precision / nullif(count(*) FILTER (WHERE daylight), 0) AS availability,
    sum(expected_ac_energy_kwh) AS expected_energy_kwh,
    greatest(0, sum(expected_ac_energy_kwh) - coalesce(sum(energy_kwh), 0)) AS lost_energy_kwh
FROM maintenance_kpi_bucket
GROUP BY site_id, device_id, local_day;
COMMENT ON VIEW maintenance_kpi_device_day IS 'Daily KPIs per inverter and site-local day (energy kWh, yield kWh/kWp, PR, availability).';

CREATE VIEW maintenance_kpi_site_day AS
SELECT
    site_id,
    local_day,
    count(DISTINCT device_id) AS inverters,
    sum(dc_capacity_kw) AS dc_capacity_kw,
    sum(energy_kwh) AS energy_kwh,
    sum(energy_kwh) / nullif(sum(dc_capacity_kw), 0) AS specific_yield_kwh_kwp,
    sum(energy_kwh) / nullif(sum(dc_capacity_kw * reference_yield_h), 0) AS performance_ratio,
    sum(energy_kwh) / nullif(sum(expected_dc_energy_kwh), 0) AS performance_ratio_temp_corr,
    sum(producing_buckets)::double precision / nullif(sum(daylight_buckets), 0) AS availability,
    sum(expected_energy_kwh) AS expected_energy_kwh,
    sum(lost_energy_kwh) AS lost_energy_kwh
FROM maintenance_kpi_device_day
GROUP BY site_id, local_day;
COMMENT ON VIEW maintenance_kpi_site_day IS 'Daily KPIs per site and site-local day: device figures combined capacity-weighted.';
