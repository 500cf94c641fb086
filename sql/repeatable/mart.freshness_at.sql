-- mart.freshness_at(expected): 数据新鲜度 as of business night `expected` — the one definition of freshness. One row per
-- county system of mart.county_crosswalk (the registry), with mart.freshness's columns: the newest business night
-- it has loaded up to `expected` and how old that is (age_nights = expected - last_loaded_night; 0 = up to date,
-- NULL = never loaded), what it sent and what was quarantined in the 30 nights up to `expected` and the 30 before,
-- and its nights past their deadline (up to `expected`) with no export yet (迟报/漏报).
-- Callers: sql/marts/freshness.sql fills mart.freshness with expected = yesterday (Asia/Shanghai), how things stand
-- now, for the health DAG; the report's freshness strip and the workbook's 数据新鲜度 sheet of as-of day D call it
-- with expected = D, so both say the same (issue 25 follow-up: they disagreed, 0 days against 3568, when the
-- workbook read the wall-clock mart for a day years back). Only batches of nights <= expected count: a delivery for
-- a later night cannot make a county look ahead (never a negative age).
-- Repeatable object (xuncha.warehouse.migrate re-applies it when it changes). A column added to mart.freshness is
-- added to the RETURNS TABLE and the SELECT here.
DROP FUNCTION IF EXISTS mart.freshness_at(date);
CREATE FUNCTION mart.freshness_at(expected date)
RETURNS TABLE (
    county_code text, county_name text, active boolean, expected_night date, last_loaded_night date,
    last_loaded_at timestamptz, last_received_at timestamptz, age_nights integer, open_misses integer,
    exports_30 integer, quarantined_30 integer, exports_prev_30 integer, quarantined_prev_30 integer,
    quarantine_rate_30 numeric, quarantine_rate_prev numeric)
LANGUAGE sql STABLE AS $body$
WITH b AS (
    SELECT county_code,
           max(business_date) FILTER (WHERE status = 'loaded') AS last_loaded_night,
           max(finished_at) FILTER (WHERE status = 'loaded') AS last_loaded_at,
           max(started_at) AS last_received_at,
           count(*) FILTER (WHERE status IN ('loaded', 'quarantined') AND business_date > expected - 30) AS exports_30,
           count(*) FILTER (WHERE status = 'quarantined' AND business_date > expected - 30) AS quarantined_30,
           count(*) FILTER (WHERE status IN ('loaded', 'quarantined')
                             AND business_date > expected - 60 AND business_date <= expected - 30) AS exports_prev_30,
           count(*) FILTER (WHERE status = 'quarantined'
                             AND business_date > expected - 60 AND business_date <= expected - 30) AS quarantined_prev_30
      FROM audit.batches
     WHERE business_date <= expected
     GROUP BY county_code
),
m AS (
    SELECT county_code, count(*) AS open_misses FROM audit.deadline_misses
     WHERE arrived_at IS NULL AND business_date <= expected GROUP BY county_code
)
SELECT cw.source_code, cw.source_name, cw.active_to IS NULL OR cw.active_to >= expected, expected,
       b.last_loaded_night, b.last_loaded_at, b.last_received_at, expected - b.last_loaded_night,
       coalesce(m.open_misses, 0)::integer, coalesce(b.exports_30, 0)::integer, coalesce(b.quarantined_30, 0)::integer,
       coalesce(b.exports_prev_30, 0)::integer, coalesce(b.quarantined_prev_30, 0)::integer,
       round(b.quarantined_30::numeric / nullif(b.exports_30, 0), 4),
       round(b.quarantined_prev_30::numeric / nullif(b.exports_prev_30, 0), 4)
  FROM mart.county_crosswalk cw
  LEFT JOIN b ON b.county_code = cw.source_code
  LEFT JOIN m ON m.county_code = cw.source_code
$body$;
-- It reads audit.batches and audit.deadline_misses, which readers may not (0152): the loader's alone.
REVOKE EXECUTE ON FUNCTION mart.freshness_at(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mart.freshness_at(date) TO xuncha_loader;
