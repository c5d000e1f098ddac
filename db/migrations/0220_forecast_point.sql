-- The point forecast next to the quantiles (issue 15, ADR 0580). Same statement on both backends
-- (forecasts is a plain table on both).
--
-- p50_kw is the forecast's median: per horizon bucket the point forecast, the climatological median or
-- halfway, whichever had the lowest recent absolute error. point_kw is the expected value (kW) the
-- models forecast (squared-error optimal); the conformal band is centred on it, the online band replay
-- (heliosgrid.forecast.online) re-scores it and the drift check's RMSE uses it. Rows written before this
-- migration have no point_kw: their P50 was the point forecast (readers use coalesce(point_kw, p50_kw)).

ALTER TABLE forecasts ADD COLUMN point_kw double precision CHECK (point_kw >= 0);
COMMENT ON COLUMN forecasts.point_kw IS
    'Point forecast (expected value, kW) the band is centred on; NULL for rows written before migration 0220 (their p50_kw).';
