-- mart.freshness — 数据新鲜度: one row = one county system of mart.county_crosswalk (the registry), recomputed whole
-- on every refresh (not a dated series: it says how things stand now). expected_night = yesterday in Asia/Shanghai;
-- age_nights = expected_night - newest loaded business night; exports/quarantines counted per business night in the
-- last 30 nights and the 30 before; open_misses = audit.deadline_misses not yet arrived.
TRUNCATE mart.freshness;

WITH night AS (
    SELECT ((now() AT TIME ZONE 'Asia/Shanghai')::date - 1) AS expected
),
b AS (
    SELECT county_code,
           max(business_date) FILTER (WHERE status = 'loaded') AS last_loaded_night,
           max(finished_at) FILTER (WHERE status = 'loaded') AS last_loaded_at,
           max(started_at) AS last_received_at,
           count(*) FILTER (WHERE status IN ('loaded', 'quarantined')
                             AND business_date > n.expected - 30 AND business_date <= n.expected) AS exports_30,
           count(*) FILTER (WHERE status = 'quarantined'
                             AND business_date > n.expected - 30 AND business_date <= n.expected) AS quarantined_30,
           count(*) FILTER (WHERE status IN ('loaded', 'quarantined')
                             AND business_date > n.expected - 60 AND business_date <= n.expected - 30) AS exports_prev_30,
           count(*) FILTER (WHERE status = 'quarantined'
                             AND business_date > n.expected - 60 AND business_date <= n.expected - 30) AS quarantined_prev_30
      FROM audit.batches CROSS JOIN night n
     GROUP BY county_code
),
m AS (
    SELECT county_code, count(*) AS open_misses FROM audit.deadline_misses WHERE arrived_at IS NULL GROUP BY county_code
)
INSERT INTO mart.freshness (county_code, county_name, active, expected_night, last_loaded_night, last_loaded_at,
                            last_received_at, age_nights, open_misses, exports_30, quarantined_30, exports_prev_30,
                            quarantined_prev_30, quarantine_rate_30, quarantine_rate_prev)
SELECT cw.source_code, cw.source_name, cw.active_to IS NULL OR cw.active_to >= n.expected, n.expected,
       b.last_loaded_night, b.last_loaded_at, b.last_received_at, n.expected - b.last_loaded_night,
       coalesce(m.open_misses, 0), coalesce(b.exports_30, 0), coalesce(b.quarantined_30, 0),
       coalesce(b.exports_prev_30, 0), coalesce(b.quarantined_prev_30, 0),
       round(b.quarantined_30::numeric / nullif(b.exports_30, 0), 4),
       round(b.quarantined_prev_30::numeric / nullif(b.exports_prev_30, 0), 4)
  FROM mart.county_crosswalk cw
 CROSS JOIN night n
  LEFT JOIN b ON b.county_code = cw.source_code
  LEFT JOIN m ON m.county_code = cw.source_code;
