-- mart.coverage — 巡察覆盖率, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- One row = one unit, one term and one organisation type (plus org_type 'all', the unit's total):
--   orgs_in_scope  the unit's organisations in scope at any time between the term's start and
--                  min(term end, as_of) — an organisation that left the scope mid-term still counts;
--   orgs_covered   those with at least one inspection (on site by as_of) in a round of that term whose
--                  type is in %(coverage_round_types)s. A city inspection of a county's organisation
--                  (inspections.org_county_code set: 提级/联动) counts for the county that owns it.
-- Terms: %(term_nos)s/%(term_starts)s/%(term_ends)s from config/metrics.yml; a term number only seen in the
-- data runs from its first round's start, open-ended. Terms starting after as_of have no rows.
-- The organisations and `covered` are the shared definition mart.coverage_orgs_as_of (sql/repeatable), which
-- ledger_uninspected.sql lists.
DELETE FROM mart.coverage
 WHERE as_of = ANY(%(dates)s::date[])
   AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.coverage (as_of, county_code, term_no, org_type, orgs_in_scope, orgs_covered, coverage_rate, full_coverage)
SELECT as_of, county_code, term_no, coalesce(org_type, 'all'),
       count(*), count(*) FILTER (WHERE covered),
       round(count(*) FILTER (WHERE covered)::numeric / count(*), 4),
       count(*) FILTER (WHERE covered) = count(*)
  FROM mart.coverage_orgs_as_of(%(dates)s, %(sources)s, %(term_nos)s::int[], %(term_starts)s::date[],
                                %(term_ends)s::date[], %(coverage_round_types)s::text[])
 GROUP BY GROUPING SETS ((as_of, county_code, term_no, org_type), (as_of, county_code, term_no));
