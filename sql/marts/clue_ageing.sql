-- mart.clue_ageing — ageing of open clues, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in clue_ageing.yml. One row = one unit and one age bucket of open clues; bucket edges in months are
-- %(ageing_months)s, the last bucket open-ended. Units with at least one clue get every bucket. A clue is open
-- when the version in force at as_of has no closed_date <= as_of (`clue`: the shared
-- definition mart.clue_status_as_of, sql/repeatable, which clue_disposal.sql counts).
DELETE FROM mart.clue_ageing
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH clue AS (
    SELECT * FROM mart.clue_status_as_of(%(dates)s, %(sources)s, %(feedback_months)s)
),
buckets AS (
    SELECT n AS bucket_no, coalesce(lag(edge) OVER (ORDER BY n), 0) AS months_from, edge AS months_to
      FROM unnest(%(ageing_months)s::int[] || NULL::int) WITH ORDINALITY AS b(edge, n)
)
INSERT INTO mart.clue_ageing (as_of, county_code, bucket_no, bucket, months_from, months_to, beyond_feedback_rule,
                              open_clues)
SELECT u.as_of, u.county_code, b.bucket_no,
       CASE WHEN b.months_to IS NULL THEN '>' || b.months_from || '个月'
            ELSE b.months_from || '-' || b.months_to || '个月' END,
       b.months_from, b.months_to, b.months_from >= %(feedback_months)s,
       count(c.transfer_date)
  FROM (SELECT DISTINCT as_of, county_code FROM clue) u
 CROSS JOIN buckets b
  LEFT JOIN clue c
    ON c.as_of = u.as_of AND c.county_code = u.county_code AND NOT c.disposed
   AND (b.months_from = 0 OR c.as_of > c.transfer_date + make_interval(months => b.months_from))
   AND (b.months_to IS NULL OR c.as_of <= c.transfer_date + make_interval(months => b.months_to))
 GROUP BY u.as_of, u.county_code, b.bucket_no, b.months_from, b.months_to;
