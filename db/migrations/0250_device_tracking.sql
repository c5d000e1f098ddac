-- How an inverter's modules are held (ADR 0650). Same statement on both backends (devices is a plain table).
--
-- tracking 'fixed': surface_tilt_deg / surface_azimuth_deg are the modules'. 'single_axis': they are the
-- tracker axis's (0 / 180 for a horizontal north-south axis); the modules turn up to
-- tracker_max_angle_deg either side of flat and backtrack at ground coverage ratio tracker_gcr
-- (heliosgrid.physics.model.surface_angles_deg, pvlib singleaxis). Rows written before this migration are
-- fixed arrays, as they were modelled.

ALTER TABLE devices
    ADD COLUMN tracking text NOT NULL DEFAULT 'fixed' CHECK (tracking IN ('fixed', 'single_axis')),
    ADD COLUMN tracker_max_angle_deg double precision NOT NULL DEFAULT 60
        CHECK (tracker_max_angle_deg > 0 AND tracker_max_angle_deg <= 90),
    ADD COLUMN tracker_gcr double precision NOT NULL DEFAULT 0.35 CHECK (tracker_gcr > 0 AND tracker_gcr < 1);
COMMENT ON COLUMN devices.tracking IS
    'fixed: surface_tilt_deg/surface_azimuth_deg are the modules''; single_axis: they are the tracker axis''s.';
COMMENT ON COLUMN devices.tracker_max_angle_deg IS 'Single-axis tracker rotation limit either side of flat, degrees.';
COMMENT ON COLUMN devices.tracker_gcr IS 'Single-axis tracker ground coverage ratio (backtracking), 0..1.';
