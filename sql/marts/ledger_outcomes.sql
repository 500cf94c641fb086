-- mart.ledger_outcomes — 处置结果台账, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in ledger_outcomes.yml. One row = one decision made by as_of: the shared definition
-- mart.outcome_decisions_as_of (sql/repeatable) that mart.outcomes counts, so per unit and term the rows number
-- the sum of mart.outcomes.outcomes. Provenance: the batch of the decision's version in force.
DELETE FROM mart.ledger_outcomes
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.ledger_outcomes (as_of, county_code, source_code, outcome_id, term_no, year, clue_id, inspection_id,
                                  org_id, outcome_type, person_rank, decision_date, amount_recovered, batch_id,
                                  export_id, business_date, loaded_at)
SELECT o.as_of, o.county_code, o.source_code, o.outcome_id, o.term_no, extract(year FROM o.decision_date)::int,
       o.clue_id, o.inspection_id, o.org_id, o.outcome_type, o.person_rank, o.decision_date, o.amount_recovered,
       o.batch_id, b.export_id, b.business_date, b.finished_at
  FROM mart.outcome_decisions_as_of(%(dates)s, %(sources)s) o
  LEFT JOIN audit.batches b ON b.batch_id = o.batch_id;
