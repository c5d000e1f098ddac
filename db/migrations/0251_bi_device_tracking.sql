-- The mount of each device in the BI layer (ADR 0650): bi.device gains tracking, tracker_max_angle_deg and
-- tracker_gcr (migration 0250), appended so existing reports keep their columns. Same on both backends.

CREATE OR REPLACE VIEW bi.device AS
SELECT device_id, site_id, kind, surface_tilt_deg, surface_azimuth_deg, dc_capacity_kw, ac_capacity_kw,
       tracking, tracker_max_angle_deg, tracker_gcr
FROM devices;
COMMENT ON VIEW bi.device IS
    'Devices. tracking fixed: surface_tilt_deg/surface_azimuth_deg are the modules''; single_axis: the tracker axis''s.';
