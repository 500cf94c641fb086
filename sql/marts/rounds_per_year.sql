-- mart.rounds_per_year — 巡察轮次, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- One row = one unit and one calendar year, from the year of the unit's first round to the as-of year:
-- the rounds its committee started that year (start_date <= as_of), by type, against the round target of
-- the unit's level (%(target_levels)s/%(target_mins)s/%(target_maxs)s; the city aims at 3 or more a year,
-- counties at 4 to 5). A year with no round is a row of zeros. year_complete = the whole year is in view.
DELETE FROM mart.rounds_per_year
 WHERE as_of = ANY(%(dates)s::date[])
   AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH r AS (
    SELECT as_of, report_code AS county_code, round_type, extract(year FROM start_date)::int AS year
      FROM mart.rounds_as_of(%(dates)s, %(sources)s)
     WHERE start_date <= as_of
),
years AS (
    SELECT u.as_of, u.county_code, y.year
      FROM (SELECT as_of, county_code, min(year) AS first_year FROM r GROUP BY as_of, county_code) u
     CROSS JOIN LATERAL generate_series(u.first_year, extract(year FROM u.as_of)::int) AS y(year)
),
targets AS (
    SELECT * FROM unnest(%(target_levels)s::text[], %(target_mins)s::int[], %(target_maxs)s::int[]) AS t(level, lo, hi)
)
INSERT INTO mart.rounds_per_year (as_of, county_code, year, level, rounds, regular_rounds, special_rounds, mobile_rounds,
                                  linked_rounds, cross_rounds, escalated_rounds, revisit_rounds, target_min, target_max,
                                  meets_target, year_complete)
SELECT y.as_of, y.county_code, y.year, coalesce(cw.level, 'county'),
       count(r.round_type),
       count(*) FILTER (WHERE r.round_type = 'regular'),
       count(*) FILTER (WHERE r.round_type = 'special'),
       count(*) FILTER (WHERE r.round_type = 'mobile'),
       count(*) FILTER (WHERE r.round_type = 'linked'),
       count(*) FILTER (WHERE r.round_type = 'cross'),
       count(*) FILTER (WHERE r.round_type = 'escalated'),
       count(*) FILTER (WHERE r.round_type = 'revisit'),
       t.lo, t.hi,
       CASE WHEN t.level IS NOT NULL
            THEN count(r.round_type) >= coalesce(t.lo, 0) AND count(r.round_type) <= coalesce(t.hi, count(r.round_type)) END,
       y.as_of >= make_date(y.year, 12, 31)
  FROM years y
  LEFT JOIN r ON r.as_of = y.as_of AND r.county_code = y.county_code AND r.year = y.year
  LEFT JOIN mart.county_crosswalk cw ON cw.source_code = y.county_code
  LEFT JOIN targets t ON t.level = coalesce(cw.level, 'county')
 GROUP BY y.as_of, y.county_code, y.year, cw.level, t.level, t.lo, t.hi;
