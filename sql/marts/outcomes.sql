-- mart.outcomes — 处置结果, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- One row = one unit, term, decision year, outcome type and person rank: the decisions made by as_of
-- (decision_date <= as_of) and the amounts recovered (收缴违规违纪款项、挽回经济损失, CNY) they carry. The term is
-- that of the round of the inspection the outcome's clue came from (0 when that chain is unknown): the shared
-- definition mart.outcome_decisions_as_of (sql/repeatable), which ledger_outcomes.sql lists.
DELETE FROM mart.outcomes
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.outcomes (as_of, county_code, term_no, year, outcome_type, person_rank, outcomes, amount_recovered,
                           outcomes_with_amount)
SELECT as_of, county_code, term_no, extract(year FROM decision_date)::int, outcome_type,
       person_rank, count(*), coalesce(sum(amount_recovered), 0), count(*) FILTER (WHERE amount_recovered > 0)
  FROM mart.outcome_decisions_as_of(%(dates)s, %(sources)s)
 GROUP BY as_of, county_code, term_no, extract(year FROM decision_date)::int, outcome_type, person_rank;
