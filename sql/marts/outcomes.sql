-- mart.outcomes — 处置结果, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- One row = one unit, term, decision year, outcome type and person rank: the decisions made by as_of
-- (decision_date <= as_of) and the amounts recovered (收缴违规违纪款项、挽回经济损失, CNY) they carry. The term is
-- that of the round of the inspection the outcome's clue came from (0 when that chain is unknown).
DELETE FROM mart.outcomes
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.outcomes (as_of, county_code, term_no, year, outcome_type, person_rank, outcomes, amount_recovered,
                           outcomes_with_amount)
SELECT o.as_of, o.report_code, coalesce(r.term_no, 0), extract(year FROM o.decision_date)::int, o.outcome_type,
       o.person_rank, count(*), coalesce(sum(o.amount_recovered), 0), count(*) FILTER (WHERE o.amount_recovered > 0)
  FROM mart.case_outcomes_as_of(%(dates)s, %(sources)s) o
  LEFT JOIN mart.clues_as_of(%(dates)s, %(sources)s) c
    ON c.as_of = o.as_of AND c.report_code = o.report_code AND c.clue_id = o.clue_id
  LEFT JOIN mart.inspections_as_of(%(dates)s, %(sources)s) i
    ON i.as_of = c.as_of AND i.report_code = c.report_code AND i.inspection_id = c.inspection_id
  LEFT JOIN mart.rounds_as_of(%(dates)s, %(sources)s) r
    ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
 WHERE o.decision_date <= o.as_of
 GROUP BY o.as_of, o.report_code, coalesce(r.term_no, 0), extract(year FROM o.decision_date)::int, o.outcome_type,
          o.person_rank;
