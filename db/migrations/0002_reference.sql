-- Sites and devices: the metadata physics needs (pvlib conventions: degrees, metres, kW).
CREATE TABLE sites (
    site_id            text PRIMARY KEY CHECK (site_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name               text NOT NULL,
    latitude_deg       double precision NOT NULL CHECK (latitude_deg BETWEEN -90 AND 90),
    longitude_deg      double precision NOT NULL CHECK (longitude_deg BETWEEN -180 AND 180),
    altitude_m         double precision NOT NULL DEFAULT 0,
    timezone           text NOT NULL DEFAULT 'UTC',
    dc_capacity_kw     double precision NOT NULL DEFAULT 0 CHECK (dc_capacity_kw >= 0),
    ac_capacity_kw     double precision NOT NULL DEFAULT 0 CHECK (ac_capacity_kw >= 0),
    tariff_per_kwh     double precision,
    created_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sites IS 'Solar plants. Capacities in kW (sum of the inverters).';

CREATE TABLE devices (
    device_id              text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    site_id                text NOT NULL REFERENCES sites(site_id) ON DELETE CASCADE,
    kind                   text NOT NULL CHECK (kind IN ('inverter', 'weather_station')),
    surface_tilt_deg       double precision NOT NULL DEFAULT 0 CHECK (surface_tilt_deg BETWEEN 0 AND 90),
    surface_azimuth_deg    double precision NOT NULL DEFAULT 180 CHECK (surface_azimuth_deg BETWEEN 0 AND 360),
    dc_capacity_kw         double precision NOT NULL DEFAULT 0 CHECK (dc_capacity_kw >= 0),
    ac_capacity_kw         double precision NOT NULL DEFAULT 0 CHECK (ac_capacity_kw >= 0),
    gamma_pdc_per_c        double precision NOT NULL DEFAULT -0.004 CHECK (gamma_pdc_per_c BETWEEN -0.02 AND 0),
    inverter_efficiency    double precision NOT NULL DEFAULT 0.96 CHECK (inverter_efficiency > 0 AND inverter_efficiency <= 1),
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_site_idx ON devices(site_id);
COMMENT ON COLUMN devices.surface_azimuth_deg IS 'Degrees east of north (pvlib convention: 180 = south).';
COMMENT ON COLUMN devices.gamma_pdc_per_c IS 'DC power temperature coefficient, 1/°C (e.g. -0.004).';
