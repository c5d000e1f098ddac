"""The SQL the BI benchmark times: Power BI report visuals, the issue's literal examples, and the
pre-serving-layer baseline (device rows re-aggregated per query, migrations 0040/0042).

Parameters bound per query: ``%(end)s`` (data end, "now"), ``%(site)s`` (the site-slicer
selection), ``%(day)s``. Units as in the ``bi`` views: power kW, energy kWh, ratios 0..1.
"""

from __future__ import annotations

# The SQL DirectQuery visuals of powerbi/HeliosGrid.Report send (view, page filters, grouping,
# top-N). Parameters: %(end)s (data end, "now"), %(site)s (the site-slicer selection), %(day)s.
REPORT_QUERIES: dict[str, str] = {
    # Fleet overview
    "fleet_current_kw": "SELECT bucket, ac_power_kw FROM bi.fleet_power_15m WHERE bucket <= %(end)s "
                        "ORDER BY bucket DESC LIMIT 1",
    "fleet_energy_today_kwh": "SELECT sum(energy_kwh) FROM bi.fleet_power_15m "
                              "WHERE bucket >= date_trunc('day', %(end)s::timestamptz)",
    "fleet_pr_availability_30d": "SELECT sum(energy_kwh) / nullif(sum(reference_energy_kwh), 0), "
                                 "sum(producing_buckets)::float8 / nullif(sum(daylight_buckets), 0) FROM bi.site_kpi_daily "
                                 "WHERE day > %(end)s::date - 30",
    "open_alerts": "SELECT count(*) FROM bi.alert WHERE state <> 'resolved'",
    "site_table_30d": "SELECT s.site_id, s.site_name, s.latitude_deg, s.longitude_deg, sum(k.energy_kwh), "
                      "sum(k.energy_kwh) / nullif(sum(k.reference_energy_kwh), 0) FROM bi.site s "
                      "LEFT JOIN bi.site_kpi_daily k ON k.site_id = s.site_id AND k.day > %(end)s::date - 30 "
                      "GROUP BY s.site_id, s.site_name, s.latitude_deg, s.longitude_deg ORDER BY 5 DESC NULLS LAST",
    "fleet_power_today_vs_expected": "SELECT bucket, ac_power_kw, expected_ac_power_kw FROM bi.fleet_power_15m "
                                     "WHERE bucket >= date_trunc('day', %(end)s::timestamptz) ORDER BY bucket",
    "fleet_forecast_band_today": "SELECT target_ts, sum(p10_kw), sum(p50_kw), sum(p90_kw) FROM bi.fleet_forecast_15m "
                                 "WHERE target_ts >= date_trunc('day', %(end)s::timestamptz) "
                                 "AND target_ts < date_trunc('day', %(end)s::timestamptz) + INTERVAL '1 day' GROUP BY target_ts",
    # Site detail (site slicer)
    "site_power_expected_7d": "SELECT bucket, ac_power_kw, expected_ac_power_kw FROM bi.site_power_15m "
                              "WHERE site_id = %(site)s AND bucket >= %(end)s::timestamptz - INTERVAL '7 days' ORDER BY bucket",
    "site_forecast_band_7d": "SELECT target_ts, p10_kw, p50_kw, p90_kw FROM bi.forecast_latest WHERE site_id = %(site)s "
                             "AND target_ts >= %(end)s::timestamptz - INTERVAL '7 days' ORDER BY target_ts",
    "site_power_year_15m": "SELECT bucket, ac_power_kw FROM bi.site_power_15m WHERE site_id = %(site)s "
                           "AND bucket >= %(end)s::timestamptz - INTERVAL '365 days' ORDER BY bucket",
    "site_device_power_one_day": "SELECT device_id, bucket, ac_power_kw_avg, expected_ac_power_kw FROM bi.device_power_15m "
                                 "WHERE site_id = %(site)s AND bucket >= %(day)s::timestamptz "
                                 "AND bucket < %(day)s::timestamptz + INTERVAL '1 day'",
    # Performance
    "kpi_daily_all_sites_year": "SELECT site_id, day, energy_kwh, performance_ratio, availability FROM bi.site_kpi_daily "
                                "WHERE day > %(end)s::date - 365",
    "monthly_energy_per_site_year": "SELECT site_id, month, energy_kwh FROM bi.site_kpi_monthly "
                                    "WHERE month > %(end)s::date - 365",
    "specific_yield_by_site_year": "SELECT s.site_name, "
                                   "sum(k.energy_kwh) / nullif(sum(k.capacity_kw_days) / nullif(sum(k.days), 0), 0) "
                                   "FROM bi.site_kpi_monthly k JOIN bi.site s ON s.site_id = k.site_id "
                                   "WHERE k.month > %(end)s::date - 365 GROUP BY s.site_name",
    "top5_sites_lost_energy_30d": "SELECT site_id, sum(lost_energy_kwh) FROM bi.site_kpi_daily WHERE day > %(end)s::date - 30 "
                                  "GROUP BY site_id ORDER BY 2 DESC LIMIT 5",
    "lost_energy_by_cause_year": "SELECT fault_type, sum(energy_lost_kwh), sum(revenue_lost) FROM bi.alert "
                                 "WHERE started_at >= %(end)s::timestamptz - INTERVAL '365 days' GROUP BY fault_type ORDER BY "
                                 "2 DESC LIMIT 10",
    # Forecast accuracy
    "forecast_error_by_horizon_30d": "SELECT horizon_h, sum(abs_error_kw_sum) / nullif(sum(targets), 0), "
                                     "sqrt(sum(sq_error_kw_sum) / nullif(sum(targets), 0)), "
                                     "sum(in_band_targets)::float8 / nullif(sum(targets), 0) "
                                     "FROM bi.forecast_accuracy_fleet_daily "
                                     "WHERE day > %(end)s::date - 30 GROUP BY horizon_h ORDER BY horizon_h",
    "forecast_accuracy_cards_30d": "SELECT sum(abs_error_kw_sum) / nullif(sum(targets), 0), "
                                   "sqrt(sum(sq_error_kw_sum) / nullif(sum(targets), 0)), "
                                   "sum(error_kw_sum) / nullif(sum(targets), 0), "
                                   "sum(in_band_targets)::float8 / nullif(sum(targets), 0) FROM bi.forecast_accuracy_fleet_daily "
                                   "WHERE day > %(end)s::date - 30",
    "forecast_coverage_by_site_30d": "SELECT site_id, sum(in_band_targets)::float8 / nullif(sum(targets), 0), "
                                     "sum(abs_error_kw_sum) / nullif(sum(targets), 0), "
                                     "sum(error_kw_sum) / nullif(sum(targets), 0) FROM bi.forecast_accuracy_daily "
                                     "WHERE day > %(end)s::date - 30 GROUP BY site_id",
    # Maintenance
    "alerts_by_type_state": "SELECT fault_type, state, count(*) FROM bi.alert GROUP BY fault_type, state",
    "lost_by_site_month_year": "SELECT site_id, date_trunc('month', started_at), sum(energy_lost_kwh), sum(revenue_lost) "
                               "FROM bi.alert WHERE started_at >= %(end)s::timestamptz - INTERVAL '365 days' GROUP BY 1, 2",
    # Data quality
    "site_freshness": "SELECT site_id, last_reading_ts, last_ingested_at FROM bi.site_freshness",
    "pass_rate_card_7d": "SELECT sum(passed_runs)::float8 / nullif(sum(runs), 0) FROM bi.dq_check_hourly "
                         "WHERE hour >= %(end)s::timestamptz - INTERVAL '7 days'",
    "check_pass_rates_7d": "SELECT check_name, sum(passed_runs)::float8 / nullif(sum(runs), 0) FROM bi.dq_check_hourly "
                           "WHERE hour >= %(end)s::timestamptz - INTERVAL '7 days' GROUP BY check_name",
    "site_pass_rates_7d": "SELECT s.site_name, sum(q.passed_runs)::float8 / nullif(sum(q.runs), 0) FROM bi.dq_site_hourly q "
                          "JOIN bi.site s ON s.site_id = q.site_id WHERE q.hour >= %(end)s::timestamptz - INTERVAL '7 days' "
                          "GROUP BY s.site_name ORDER BY 2",
}

EXAMPLES_FLEET = 10
"""Fleet size of the issue's table (10 sites x 10 inverters, one year of 15-min rollups)."""

# The issue's five example queries, written as a user would against the bi views (literally: the
# monthly energy from the 15-min view with date_trunc, the fleet total as a sum of the sites'
# 15-min power). Measured at every fleet size, and reported as their own group at EXAMPLES_FLEET.
EXAMPLE_QUERIES: dict[str, str] = {
    "example_monthly_energy_per_site_365d": "SELECT site_id, date_trunc('month', bucket) AS month, sum(energy_kwh) AS energy_kwh "
                                            "FROM bi.site_power_15m WHERE bucket >= %(end)s::timestamptz - INTERVAL '365 days' "
                                            "GROUP BY site_id, date_trunc('month', bucket)",
    "example_daily_kpis_all_sites_year": "SELECT site_id, day, energy_kwh, performance_ratio, availability "
                                         "FROM bi.site_kpi_daily WHERE day > %(end)s::date - 365",
    "example_site_power_15m_year": "SELECT bucket, ac_power_kw FROM bi.site_power_15m WHERE site_id = %(site)s "
                                   "AND bucket >= %(end)s::timestamptz - INTERVAL '365 days' ORDER BY bucket",
    "example_fleet_total_15m_30d": "SELECT bucket, sum(ac_power_kw) AS ac_power_kw FROM bi.site_power_15m "
                                   "WHERE bucket >= %(end)s::timestamptz - INTERVAL '30 days' GROUP BY bucket ORDER BY bucket",
    "example_site_power_expected_7d": "SELECT bucket, ac_power_kw, expected_ac_power_kw FROM bi.site_power_15m "
                                      "WHERE site_id = %(site)s AND bucket >= %(end)s::timestamptz - INTERVAL '7 days' "
                                      "ORDER BY bucket",
}

ISSUE_EXAMPLES = {
    "monthly_energy_per_site_year": "example_monthly_energy_per_site_365d",
    "kpi_daily_all_sites_year": "example_daily_kpis_all_sites_year",
    "site_power_year_15m": "example_site_power_15m_year",
    "fleet_total_15m_30d": "example_fleet_total_15m_30d",
    "site_power_expected_7d": "example_site_power_expected_7d",
}
"""Baseline query name (pre-serving-layer form) -> the example query asking the same question."""

# Pre-serving-layer definitions (0040/0042): device rows re-aggregated on every query.
_LEGACY_SITE_15M = ("(SELECT r.site_id, r.bucket, sum(r.ac_power_kw_avg) AS ac_power_kw, sum(r.energy_kwh) AS energy_kwh, "
                    "sum(least(d.ac_capacity_kw, greatest(0.0, d.dc_capacity_kw * r.poa_w_m2_avg / 1000.0 * (1.0 + "
                    "d.gamma_pdc_per_c * (coalesce(r.module_temp_c_avg, 25.0) - 25.0)) * d.inverter_efficiency))) "
                    "AS expected_ac_power_kw FROM readings_15m r JOIN devices d ON d.device_id = r.device_id "
                    "AND d.kind = 'inverter' GROUP BY r.site_id, r.bucket)")
BASELINE_QUERIES: dict[str, str] = {
    "monthly_energy_per_site_year": f"SELECT site_id, date_trunc('month', bucket), sum(energy_kwh) FROM {_LEGACY_SITE_15M} p "
                                    "WHERE bucket >= %(end)s::timestamptz - INTERVAL '365 days' GROUP BY 1, 2",
    "kpi_daily_all_sites_year": "SELECT site_id, local_day, energy_kwh, performance_ratio, availability "
                                "FROM maintenance_kpi_site_day "
                                "WHERE local_day > %(end)s::date - 365",
    "site_power_year_15m": f"SELECT bucket, ac_power_kw FROM {_LEGACY_SITE_15M} p WHERE site_id = %(site)s "
                           "AND bucket >= %(end)s::timestamptz - INTERVAL '365 days' ORDER BY bucket",
    "fleet_total_15m_30d": f"SELECT bucket, sum(ac_power_kw) FROM {_LEGACY_SITE_15M} p "
                           "WHERE bucket >= %(end)s::timestamptz - INTERVAL '30 days' GROUP BY bucket ORDER BY bucket",
    "site_power_expected_7d": f"SELECT bucket, ac_power_kw, expected_ac_power_kw FROM {_LEGACY_SITE_15M} p "
                              "WHERE site_id = %(site)s AND bucket >= %(end)s::timestamptz - INTERVAL '7 days' ORDER BY bucket",
}
