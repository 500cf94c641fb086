-- mart.term_headline — 巡察工作情况, the term headline in the shape the seed publishes, as of each day in
-- %(dates)s: unit rows for reporting units %(units)s (NULL = all) and the whole-city row, recomputed from
-- every unit (the whole city is not a sum of unit rows: an organisation inspected by the city and by its
-- county is one organisation).
-- One row = one unit (scope 'unit') or the whole city (scope 'city_total', county_code = the city's code)
-- and one term (the term of the round the row hangs from; 0 when that chain is unknown): rounds started,
-- distinct organisations inspected (any round type; the city's 提级/联动 inspections of county
-- organisations count for the city here), findings, clues transferred, decisions by outcome type and the
-- amount recovered — each counted once it has happened by as_of (start, on-site, found, transfer and
-- decision dates <= as_of).
DELETE FROM mart.term_headline
 WHERE as_of = ANY(%(dates)s::date[])
   AND (scope = 'city_total' OR %(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH rnd AS (
    SELECT as_of, report_code, round_id, term_no, start_date FROM mart.rounds_as_of(%(dates)s)
),
insp AS (
    SELECT i.as_of, i.report_code, i.inspection_id, i.onsite_start, coalesce(r.term_no, 0) AS term_no,
           coalesce(owner.report_code, i.org_county_code, i.report_code) || '/' || i.org_id AS org_key
      FROM mart.inspections_as_of(%(dates)s) i
      LEFT JOIN rnd r ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
      LEFT JOIN mart.county_crosswalk owner ON owner.source_code = i.org_county_code
),
clue AS (
    SELECT c.as_of, c.report_code, c.clue_id, c.transfer_date, coalesce(i.term_no, 0) AS term_no
      FROM mart.clues_as_of(%(dates)s) c
      LEFT JOIN insp i ON i.as_of = c.as_of AND i.report_code = c.report_code AND i.inspection_id = c.inspection_id
),
facts AS (
    SELECT as_of, report_code, term_no, 'round' AS kind, NULL AS org_key, NULL::numeric AS amount
      FROM rnd WHERE start_date <= as_of
    UNION ALL
    SELECT as_of, report_code, term_no, 'inspection', org_key, NULL
      FROM insp WHERE onsite_start <= as_of
    UNION ALL
    SELECT f.as_of, f.report_code, coalesce(i.term_no, 0), 'finding', NULL, NULL
      FROM mart.findings_as_of(%(dates)s) f
      LEFT JOIN insp i ON i.as_of = f.as_of AND i.report_code = f.report_code AND i.inspection_id = f.inspection_id
     WHERE f.found_date <= f.as_of
    UNION ALL
    SELECT as_of, report_code, term_no, 'clue', NULL, NULL
      FROM clue WHERE transfer_date <= as_of
    UNION ALL
    SELECT o.as_of, o.report_code, coalesce(c.term_no, 0), o.outcome_type, NULL, o.amount_recovered
      FROM mart.case_outcomes_as_of(%(dates)s) o
      LEFT JOIN clue c ON c.as_of = o.as_of AND c.report_code = o.report_code AND c.clue_id = o.clue_id
     WHERE o.decision_date <= o.as_of
),
totals AS (
    SELECT as_of, term_no, report_code, grouping(report_code) = 1 AS whole_city,
           count(*) FILTER (WHERE kind = 'round') AS rounds,
           count(DISTINCT org_key) FILTER (WHERE kind = 'inspection') AS orgs_inspected,
           count(*) FILTER (WHERE kind = 'finding') AS findings,
           count(*) FILTER (WHERE kind = 'clue') AS clues_transferred,
           count(*) FILTER (WHERE kind = 'sanction') AS sanctions,
           count(*) FILTER (WHERE kind = 'org_handling') AS org_handling,
           count(*) FILTER (WHERE kind = 'detention') AS detentions,
           count(*) FILTER (WHERE kind = 'judicial_transfer') AS judicial_transfers,
           coalesce(sum(amount), 0) AS amount_recovered
      FROM facts
     GROUP BY GROUPING SETS ((as_of, term_no, report_code), (as_of, term_no))
),
city AS (
    SELECT coalesce(min(report_code), '000000') AS code FROM mart.county_crosswalk WHERE level = 'city'
)
INSERT INTO mart.term_headline (as_of, scope, county_code, term_no, county_name, source_codes, rounds, orgs_inspected,
                                findings, clues_transferred, sanctions, org_handling, detentions, judicial_transfers,
                                amount_recovered)
SELECT t.as_of,
       CASE WHEN t.whole_city THEN 'city_total' ELSE 'unit' END,
       CASE WHEN t.whole_city THEN city.code ELSE t.report_code END,
       t.term_no,
       CASE WHEN t.whole_city THEN '全市'
            ELSE coalesce((SELECT report_name FROM mart.county_crosswalk WHERE source_code = t.report_code), t.report_code) END,
       CASE WHEN t.whole_city THEN ARRAY(SELECT source_code FROM mart.county_crosswalk ORDER BY source_code)
            ELSE ARRAY(SELECT DISTINCT c FROM unnest(mart.source_codes(ARRAY[t.report_code])) AS c ORDER BY c) END,
       t.rounds, t.orgs_inspected, t.findings, t.clues_transferred, t.sanctions, t.org_handling, t.detentions,
       t.judicial_transfers, t.amount_recovered
  FROM totals t
 CROSS JOIN city
 WHERE t.whole_city OR %(units)s::text[] IS NULL OR t.report_code = ANY(%(units)s::text[]);
