-- mart.clue_disposal and mart.clue_ageing — 问题线索处置, as of each day in %(dates)s, for reporting units
-- %(units)s (NULL = all). A clue counts from its transfer_date (<= as_of); it is disposed (办结) when the
-- version in force at as_of has a closed_date <= as_of, so a clue closed and later re-opened (closed_date
-- cleared by a newer version) is open again from that version on.
-- mart.clue_disposal: one row = one unit: transferred, disposed, open; open clues within and beyond the
--   %(feedback_months)s-month feedback rule (due = transfer_date + feedback_months); 清零 (cleared) = no
--   clue transferred more than %(clearance_days)s days before as_of is open.
-- mart.clue_ageing: one row = one unit and one age bucket of open clues; bucket edges in months are
--   %(ageing_months)s, the last bucket open-ended. Units with at least one clue get every bucket.
DELETE FROM mart.clue_disposal
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));
DELETE FROM mart.clue_ageing
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH clue AS (
    SELECT as_of, report_code AS county_code, transfer_date, closed_date,
           closed_date IS NOT NULL AND closed_date <= as_of AS disposed,
           as_of > transfer_date + make_interval(months => %(feedback_months)s) AS beyond_rule
      FROM mart.clues_as_of(%(dates)s, %(sources)s)
     WHERE transfer_date <= as_of
),
buckets AS (
    SELECT n AS bucket_no, coalesce(lag(edge) OVER (ORDER BY n), 0) AS months_from, edge AS months_to
      FROM unnest(%(ageing_months)s::int[] || NULL::int) WITH ORDINALITY AS b(edge, n)
),
aged AS (
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
     GROUP BY u.as_of, u.county_code, b.bucket_no, b.months_from, b.months_to
    RETURNING 1
)
INSERT INTO mart.clue_disposal (as_of, county_code, clues_transferred, clues_disposed, disposal_rate, clues_open,
                                open_within_rule, open_beyond_rule, disposed_within_rule, open_over_clearance, cleared,
                                oldest_open_transfer, feedback_months, clearance_days)
SELECT as_of, county_code,
       count(*),
       count(*) FILTER (WHERE disposed),
       round(count(*) FILTER (WHERE disposed)::numeric / count(*), 4),
       count(*) FILTER (WHERE NOT disposed),
       count(*) FILTER (WHERE NOT disposed AND NOT beyond_rule),
       count(*) FILTER (WHERE NOT disposed AND beyond_rule),
       count(*) FILTER (WHERE disposed AND closed_date <= transfer_date + make_interval(months => %(feedback_months)s)),
       count(*) FILTER (WHERE NOT disposed AND as_of - transfer_date > %(clearance_days)s),
       count(*) FILTER (WHERE NOT disposed AND as_of - transfer_date > %(clearance_days)s) = 0,
       min(transfer_date) FILTER (WHERE NOT disposed),
       %(feedback_months)s, %(clearance_days)s
  FROM clue
 GROUP BY as_of, county_code;
