-- mart.ledger_satisfaction — 满意率未达标单位, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in ledger_satisfaction.yml. One row = one row of mart.satisfaction_by_org (refreshed first:
-- depends_on) rated below the line (meets_threshold false), so per unit and term the rows number
-- mart.satisfaction's orgs_rated − orgs_meeting_threshold. Provenance: the batch of the survey's version in force.
DELETE FROM mart.ledger_satisfaction
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.ledger_satisfaction (as_of, county_code, inspection_id, term_no, org_county_code, org_id, org_name,
                                      org_type, survey_id, survey_date, respondents, satisfied_count,
                                      satisfaction_rate, threshold, source_code, batch_id, export_id, business_date,
                                      loaded_at)
SELECT s.as_of, s.county_code, s.inspection_id, s.term_no, s.org_county_code, s.org_id, s.org_name, s.org_type,
       s.survey_id, s.survey_date, s.respondents, s.satisfied_count, s.satisfaction_rate,
       %(satisfaction_threshold)s::numeric, v.county_code, v.batch_id, b.export_id, b.business_date, b.finished_at
  FROM mart.satisfaction_by_org s
  JOIN mart.satisfaction_surveys_as_of(%(dates)s, %(sources)s) v
    ON v.as_of = s.as_of AND v.report_code = s.county_code AND v.survey_id = s.survey_id
   AND v.inspection_id = s.inspection_id
  LEFT JOIN audit.batches b ON b.batch_id = v.batch_id
 WHERE s.as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR s.county_code = ANY(%(units)s::text[]))
   AND NOT s.meets_threshold;
