-- mart.coverage_orgs_as_of(dates, codes, term_nos, term_starts, term_ends, round_types): the organisations a
-- unit must inspect in a term (应巡察单位) as they stood at the end of each day in `dates`, for county codes `codes`
-- (NULL = all), each with `covered` (已巡察) and the first inspection that covers it.
-- One row = one organisation of a reporting unit in scope at any time between the term's start and
-- min(term end, as_of) (one that left the scope mid-term still counts) and one term. Covered = at least one
-- inspection on site by as_of in a round of that term whose type is in `round_types`; a city inspection of a
-- county's organisation (inspections.org_county_code set: 提级/联动) counts for the county that owns it.
-- Terms: `term_nos`/`term_starts`/`term_ends` from config/metrics.yml; a term number only seen in the data runs
-- from its first round's start, open-ended; terms starting after as_of have no rows.
-- The one definition mart.coverage counts and mart.ledger_uninspected (未巡察单位) lists (not covered).
-- Repeatable object (xuncha.warehouse.migrate); its body is checked when it runs (it sorts before the as-of
-- functions it reads).
SET LOCAL check_function_bodies = off;
DROP FUNCTION IF EXISTS mart.coverage_orgs_as_of(date[], text[], integer[], date[], date[], text[]);
CREATE FUNCTION mart.coverage_orgs_as_of(dates date[], codes text[], term_nos integer[], term_starts date[],
                                         term_ends date[], round_types text[])
RETURNS TABLE (
    as_of date, county_code text, term_no integer, org_id text, org_type text, org_name text, source_code text,
    in_scope_from date, in_scope_to date, term_start date, term_end date, covered boolean,
    first_inspection_id text, first_onsite_start date, batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE
-- Its plan without merge joins (issue 26, P4): the refresh turns nested loops off, and the planner then answered
-- `covered` for the list's NOT covered as a merge anti join on term_no alone, filtering the other keys row by row:
-- 224 M comparisons and 102 s for 16,000 organisations (P4 at 2 M findings); hashed on all four keys, 0.15 s.
-- The SET keeps the function from being inlined; its rows are the same.
SET enable_mergejoin = off
AS $body$
    WITH terms AS (
        SELECT * FROM unnest(term_nos, term_starts, term_ends) AS t(term_no, starts, ends)
        UNION ALL
        SELECT r.term_no, min(r.start_date), NULL     -- every version of every round: current (core) and closed (history)
          FROM (SELECT term_no, start_date FROM core.rounds UNION ALL SELECT term_no, start_date FROM history.rounds) r
         WHERE r.term_no <> ALL(term_nos)
         GROUP BY r.term_no
    ),
    in_scope AS (
        SELECT o.as_of, o.report_code AS county_code, t.term_no, o.org_id, o.org_type, o.org_name,
               o.county_code AS source_code, o.in_scope_from, o.in_scope_to, t.starts, t.ends, o.batch_id
          FROM mart.org_units_as_of(dates, codes) o
          JOIN terms t ON t.starts <= o.as_of
         WHERE o.in_scope_from <= least(t.ends, o.as_of)
           AND (o.in_scope_to IS NULL OR o.in_scope_to >= t.starts)
    ),
    covered AS (      -- one row per covered organisation: its first inspection on site
        SELECT DISTINCT ON (v.as_of, v.county_code, v.term_no, v.org_id) v.*
          FROM (SELECT i.as_of, coalesce(owner.report_code, i.org_county_code, i.report_code) AS county_code,
                       r.term_no, i.org_id, i.inspection_id, i.onsite_start
                  FROM mart.inspections_as_of(dates, codes) i
                  JOIN mart.rounds_as_of(dates, codes) r
                    ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
                  LEFT JOIN mart.county_crosswalk owner ON owner.source_code = i.org_county_code
                 WHERE r.round_type = ANY(round_types)
                   AND i.onsite_start <= i.as_of) v
         ORDER BY v.as_of, v.county_code, v.term_no, v.org_id, v.onsite_start, v.inspection_id
    )
    SELECT s.as_of, s.county_code, s.term_no, s.org_id, s.org_type, s.org_name, s.source_code, s.in_scope_from,
           s.in_scope_to, s.starts, s.ends, c.org_id IS NOT NULL, c.inspection_id, c.onsite_start, s.batch_id
      FROM in_scope s
      LEFT JOIN covered c USING (as_of, county_code, term_no, org_id)
$body$;
