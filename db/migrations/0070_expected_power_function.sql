-- One SQL definition of expected power, used by the bi views, the serving-layer rollups
-- (0072), the maintenance KPIs (maintenance_kpi_bucket, replaced here) and — after the lead
-- switches it — the API's site aggregation. It is the SQL twin of
-- heliosgrid.maintenance.expected.expected_ac_from_sensors (pvlib), checked by a parity test:
--   cell temperature   Tc  = Tm + 3 °C · G/1000                 (SAPM back-sheet → cell, ΔT = 3 °C)
--   PVWatts DC         Pdc = Pdc0 · G/1000 · (1 + γ·(Tc − 25))    (kW)
--   PVWatts inverter   ζ = Pdc / (Pac0/η_nom),
--                      η = η_nom/0.9637 · (−0.0162·ζ − 0.0059/ζ + 0.9858)   (part-load curve)
--                      Pac = clip(η·Pdc, 0, Pac0)                 (kW, clipping at ac_capacity_kw)
-- Inputs: G = plane-of-array irradiance W/m² (negative clipped to 0; NULL → NULL), Tm = module
-- back-sheet temperature °C (NULL → cell at 25 °C, i.e. no temperature correction), device metadata
-- from `devices` (kW, 1/°C, 0..1). Bucket means in, so the same small non-linearity error as
-- the Python model (see expected.py). Both are single-expression SQL functions so the planner
-- inlines them (a FROM clause would prevent it and cost ~20 µs per row); the AC body calls
-- public.helios_expected_dc_power_kw schema-qualified: continuous-aggregate refreshes run with an
-- empty search_path.

CREATE FUNCTION helios_expected_dc_power_kw(
    poa_w_m2 double precision, module_temp_c double precision,
    dc_capacity_kw double precision, gamma_pdc_per_c double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN poa_w_m2 IS NULL THEN NULL ELSE
        dc_capacity_kw * greatest(poa_w_m2, 0.0) / 1000.0
        * (1.0 + gamma_pdc_per_c
                 * (coalesce(module_temp_c, 25.0 - 3.0 * greatest(poa_w_m2, 0.0) / 1000.0)
                    + 3.0 * greatest(poa_w_m2, 0.0) / 1000.0 - 25.0))
    END
$$;
COMMENT ON FUNCTION helios_expected_dc_power_kw(double precision, double precision, double precision, double precision) IS
    'PVWatts DC power (kW) from POA (W/m²) and back-sheet temperature (°C → cell via SAPM ΔT = 3 °C).';

CREATE FUNCTION helios_expected_ac_power_kw(
    poa_w_m2 double precision, module_temp_c double precision,
    dc_capacity_kw double precision, ac_capacity_kw double precision,
    gamma_pdc_per_c double precision, inverter_efficiency double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN poa_w_m2 IS NULL THEN NULL
        WHEN ac_capacity_kw <= 0
          OR public.helios_expected_dc_power_kw(poa_w_m2, module_temp_c, dc_capacity_kw, gamma_pdc_per_c) = 0 THEN 0.0
        ELSE least(ac_capacity_kw, greatest(0.0,
                 public.helios_expected_dc_power_kw(poa_w_m2, module_temp_c, dc_capacity_kw, gamma_pdc_per_c)
                 * inverter_efficiency / 0.9637
                 * (-0.0162 * public.helios_expected_dc_power_kw(poa_w_m2, module_temp_c, dc_capacity_kw, gamma_pdc_per_c)
                            * inverter_efficiency / ac_capacity_kw
                    - 0.0059 * ac_capacity_kw
                      / (public.helios_expected_dc_power_kw(poa_w_m2, module_temp_c, dc_capacity_kw, gamma_pdc_per_c)
                         * inverter_efficiency)
                    + 0.9858)))
    END
$$;
COMMENT ON FUNCTION helios_expected_ac_power_kw(double precision, double precision, double precision, double precision, double precision, double precision) IS
    'Expected AC power (kW): PVWatts DC with SAPM cell temperature, PVWatts inverter part-load curve, clipping (pvlib parity).';

-- Maintenance KPIs (0030) now use the function: same columns, expected DC/AC energy per bucket.
CREATE OR REPLACE VIEW maintenance_kpi_bucket AS
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
    helios_expected_dc_power_kw(coalesce(r.poa_w_m2_avg, 0), r.module_temp_c_avg, d.dc_capacity_kw, d.gamma_pdc_per_c)
        * 0.25 AS expected_dc_energy_kwh,
    helios_expected_ac_power_kw(coalesce(r.poa_w_m2_avg, 0), r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                d.gamma_pdc_per_c, d.inverter_efficiency) * 0.25 AS expected_ac_energy_kwh,
    (coalesce(r.poa_w_m2_avg, 0) >= 50) AS daylight,
    (coalesce(r.poa_w_m2_avg, 0) >= 50 AND coalesce(r.ac_power_kw_avg, 0) > 0 AND r.status_ok_count > 0) AS producing
FROM readings_15m r
JOIN devices d ON d.device_id = r.device_id AND d.kind = 'inverter'
JOIN sites s ON s.site_id = r.site_id;

-- Device-level bi view: same columns, expected power from the function (cell temperature).
CREATE OR REPLACE VIEW bi.device_power_15m AS
SELECT r.device_id, r.site_id, r.bucket,
       r.ac_power_kw_avg, r.dc_power_kw_avg, r.energy_kwh, r.poa_w_m2_avg, r.poa_irradiation_kwh_m2,
       r.module_temp_c_avg, r.completeness, r.sample_count, r.status_ok_count,
       CASE WHEN d.kind = 'inverter' THEN
           helios_expected_ac_power_kw(r.poa_w_m2_avg, r.module_temp_c_avg, d.dc_capacity_kw, d.ac_capacity_kw,
                                       d.gamma_pdc_per_c, d.inverter_efficiency)
       END AS expected_ac_power_kw
FROM readings_15m r JOIN devices d ON d.device_id = r.device_id;
