-- mart.outcome_decisions_as_of(dates, codes): the decisions (处置结果) made by the end of each day in `dates`
-- (decision_date <= as_of), as they stood then, for county codes `codes` (NULL = all), each with the chain it
-- hangs from: its clue, the clue's inspection and organisation, and the term of the inspection's round (0 when that
-- chain is unknown). The one definition mart.outcomes counts and mart.ledger_outcomes lists.
-- Repeatable object (xuncha.warehouse.migrate); its body is checked when it runs (it sorts before some of the
-- as-of functions it reads).
SET LOCAL check_function_bodies = off;
DROP FUNCTION IF EXISTS mart.outcome_decisions_as_of(date[], text[]);
CREATE FUNCTION mart.outcome_decisions_as_of(dates date[], codes text[])
RETURNS TABLE (
    as_of date, county_code text, source_code text, outcome_id text, clue_id text, inspection_id text, org_id text,
    term_no integer, outcome_type text, person_rank text, decision_date date, amount_recovered numeric,
    batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    SELECT o.as_of, o.report_code, o.county_code, o.outcome_id, o.clue_id, c.inspection_id, i.org_id,
           coalesce(r.term_no, 0), o.outcome_type, o.person_rank, o.decision_date, o.amount_recovered, o.batch_id
      FROM mart.case_outcomes_as_of(dates, codes) o
      LEFT JOIN mart.clues_as_of(dates, codes) c
        ON c.as_of = o.as_of AND c.report_code = o.report_code AND c.clue_id = o.clue_id
      LEFT JOIN mart.inspections_as_of(dates, codes) i
        ON i.as_of = c.as_of AND i.report_code = c.report_code AND i.inspection_id = c.inspection_id
      LEFT JOIN mart.rounds_as_of(dates, codes) r
        ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
     WHERE o.decision_date <= o.as_of
$body$;
