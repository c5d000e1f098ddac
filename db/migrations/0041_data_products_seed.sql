-- Data-product catalogue seed (Data as a Product): one row per published product, linked to
-- its ODCS data contract in contracts/. Freshness SLAs in seconds match the contracts'
-- `latency` SLA properties (checked by `heliosgrid contracts check`).
INSERT INTO data_products (name, version, title, description, owner, relation, contract_path, freshness_sla_s) VALUES
 ('readings', '1.0.0', 'Raw sensor readings',
  'One row per device and minute: irradiance (W/m²), temperatures (°C), DC/AC power (kW), inverter status.',
  'ingest-team', 'readings', 'contracts/readings.yaml', 300),
 ('rollups', '1.0.0', 'Rollups 15 min / 1 h / 1 day',
  'Per-device aggregates (avg/min/max, energy kWh, irradiation kWh/m², completeness) and the bi site views.',
  'platform-team', 'readings_15m', 'contracts/rollups.yaml', 3600),
 ('forecasts', '1.0.0', 'Site power forecasts',
  'Probabilistic site AC power forecasts (P10/P50/P90 kW) per 15-minute target time and issue time.',
  'forecasting-team', 'forecasts', 'contracts/forecasts.yaml', 7200),
 ('alerts', '1.0.0', 'Maintenance and pipeline alerts',
  'Alerts with lifecycle (open → acknowledged → resolved), energy and revenue lost.',
  'maintenance-team', 'alerts', 'contracts/alerts.yaml', 86400),
 ('quality', '1.0.0', 'Data-quality results',
  'One row per data-quality check, scope (site/device) and window, with measured value and threshold.',
  'quality-team', 'dq_results', 'contracts/quality.yaml', 7200)
ON CONFLICT (name) DO NOTHING;
