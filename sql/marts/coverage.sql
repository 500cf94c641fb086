-- mart.coverage — 巡察覆盖率, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- One row = one unit, one term and one organisation type (plus org_type 'all', the unit's total):
--   orgs_in_scope  the unit's organisations in scope at any time between the term's start and
--                  min(term end, as_of) — an organisation that left the scope mid-term still counts;
--   orgs_covered   those with at least one inspection (on site by as_of) in a round of that term whose
--                  type is in %(coverage_round_types)s. A city inspection of a county's organisation
--                  (inspections.org_county_code set: 提级/联动) counts for the county that owns it.
-- Terms: %(term_nos)s/%(term_starts)s/%(term_ends)s from config/metrics.yml; a term number only seen in the
-- data runs from its first round's start, open-ended. Terms starting after as_of have no rows.
DELETE FROM mart.coverage
 WHERE as_of = ANY(%(dates)s::date[])
   AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH terms AS (
    SELECT * FROM unnest(%(term_nos)s::int[], %(term_starts)s::date[], %(term_ends)s::date[]) AS t(term_no, starts, ends)
    UNION ALL
    SELECT term_no, min(start_date), NULL     -- every version of every round: current (core) and closed (history)
      FROM (SELECT term_no, start_date FROM core.rounds UNION ALL SELECT term_no, start_date FROM history.rounds) r
     WHERE term_no <> ALL(%(term_nos)s::int[])
     GROUP BY term_no
),
in_scope AS (
    SELECT o.as_of, o.report_code AS county_code, t.term_no, o.org_id, o.org_type
      FROM mart.org_units_as_of(%(dates)s, %(sources)s) o
      JOIN terms t ON t.starts <= o.as_of
     WHERE o.in_scope_from <= least(t.ends, o.as_of)
       AND (o.in_scope_to IS NULL OR o.in_scope_to >= t.starts)
),
covered AS (
    SELECT DISTINCT i.as_of, coalesce(owner.report_code, i.org_county_code, i.report_code) AS county_code,
           r.term_no, i.org_id
      FROM mart.inspections_as_of(%(dates)s, %(sources)s) i
      JOIN mart.rounds_as_of(%(dates)s, %(sources)s) r
        ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
      LEFT JOIN mart.county_crosswalk owner ON owner.source_code = i.org_county_code
     WHERE r.round_type = ANY(%(coverage_round_types)s::text[])
       AND i.onsite_start <= i.as_of
)
INSERT INTO mart.coverage (as_of, county_code, term_no, org_type, orgs_in_scope, orgs_covered, coverage_rate, full_coverage)
SELECT s.as_of, s.county_code, s.term_no, coalesce(s.org_type, 'all'),
       count(*), count(c.org_id),
       round(count(c.org_id)::numeric / count(*), 4),
       count(c.org_id) = count(*)
  FROM in_scope s
  LEFT JOIN covered c USING (as_of, county_code, term_no, org_id)
 GROUP BY GROUPING SETS ((s.as_of, s.county_code, s.term_no, s.org_type), (s.as_of, s.county_code, s.term_no));
