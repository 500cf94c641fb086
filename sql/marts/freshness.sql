-- mart.freshness — 数据新鲜度: one row = one county system of mart.county_crosswalk (the registry), recomputed whole
-- on every refresh (not a dated series: it says how things stand now). The definition is mart.freshness_at
-- (sql/repeatable/mart.freshness_at.sql), here with expected_night = yesterday in Asia/Shanghai; the report and the
-- workbook of a day D call the same function with D.
TRUNCATE mart.freshness;

INSERT INTO mart.freshness (county_code, county_name, active, expected_night, last_loaded_night, last_loaded_at,
                            last_received_at, age_nights, open_misses, exports_30, quarantined_30, exports_prev_30,
                            quarantined_prev_30, quarantine_rate_30, quarantine_rate_prev)
SELECT * FROM mart.freshness_at((now() AT TIME ZONE 'Asia/Shanghai')::date - 1);
