-- One KPI definition everywhere: the bi KPI views now read the maintenance KPI views
-- (migration 0030: IEC 61724-1 PR, temperature-corrected PR, availability over daylight
-- buckets, expected and lost energy, per *site-local* day) instead of the simpler UTC-day
-- formulas of 0040. The API (/v1/kpis, /v1/overview), the dashboard and Power BI read these.
-- Units: energy kWh, capacity kW, yields kWh/kWp, ratios 0..1, revenue in the site currency.

DROP VIEW bi.site_kpi_daily;

-- reference_energy_kwh = Σ Pdc0 · Yr (kWh at STC efficiency) so that PR over any set of days or
-- sites is Σ energy_kwh / Σ reference_energy_kwh (what the DAX measure computes).
CREATE VIEW bi.site_kpi_daily AS
SELECT k.site_id,
       k.local_day AS day,
       k.inverters,
       k.dc_capacity_kw,
       k.energy_kwh,
       r.reference_energy_kwh,
       k.specific_yield_kwh_kwp,
       k.performance_ratio,
       k.performance_ratio_temp_corr,
       k.availability,
       k.expected_energy_kwh,
       k.lost_energy_kwh,
       k.energy_kwh * coalesce(s.tariff_per_kwh, 0) AS revenue
FROM maintenance_kpi_site_day k
JOIN sites s ON s.site_id = k.site_id
JOIN (SELECT site_id, local_day, sum(dc_capacity_kw * reference_yield_h) AS reference_energy_kwh
      FROM maintenance_kpi_device_day GROUP BY site_id, local_day) r
  ON r.site_id = k.site_id AND r.local_day = k.local_day;
COMMENT ON VIEW bi.site_kpi_daily IS 'Daily KPIs per site and site-local day (maintenance_kpi_site_day + reference energy, revenue).';

CREATE VIEW bi.device_kpi_daily AS
SELECT site_id, device_id, local_day AS day, dc_capacity_kw, energy_kwh, specific_yield_kwh_kwp,
       performance_ratio, performance_ratio_temp_corr, availability, expected_energy_kwh, lost_energy_kwh
FROM maintenance_kpi_device_day;
COMMENT ON VIEW bi.device_kpi_daily IS 'Daily KPIs per inverter and site-local day (maintenance_kpi_device_day).';

GRANT SELECT ON bi.site_kpi_daily, bi.device_kpi_daily TO helios_bi_reader;
