-- mart.satisfaction_by_org — 整改满意率 per inspected organisation, as of each day in %(dates)s, for reporting
-- units %(units)s (NULL = all). Described in satisfaction_by_org.yml. One row = one inspected organisation in one
-- inspection (the inspecting unit's row; the owner is org_county_code), with the inspection's latest survey up to
-- as_of (by survey_date): rate = satisfied (+ basically_satisfied when %(count_basically_satisfied)s) /
-- respondents; NULL, and not judged against the threshold, when the survey had no respondents.
DELETE FROM mart.satisfaction_by_org
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH survey AS (
    SELECT DISTINCT ON (s.as_of, s.report_code, s.inspection_id)
           s.*, count(*) OVER (PARTITION BY s.as_of, s.report_code, s.inspection_id) AS surveys,
           s.satisfied + CASE WHEN %(count_basically_satisfied)s THEN s.basically_satisfied ELSE 0 END AS satisfied_count
      FROM mart.satisfaction_surveys_as_of(%(dates)s, %(sources)s) s
     WHERE s.survey_date <= s.as_of
     ORDER BY s.as_of, s.report_code, s.inspection_id, s.survey_date DESC, s.updated_at DESC, s.survey_id DESC
)
INSERT INTO mart.satisfaction_by_org (as_of, county_code, inspection_id, term_no, org_county_code, org_id, org_name,
                                      org_type, survey_id, survey_date, surveys, respondents, satisfied,
                                      basically_satisfied, dissatisfied, satisfied_count, satisfaction_rate,
                                      meets_threshold)
SELECT s.as_of, s.report_code, s.inspection_id, coalesce(r.term_no, 0), i.owner, i.org_id, o.org_name, o.org_type,
       s.survey_id, s.survey_date, s.surveys, s.respondents, s.satisfied, s.basically_satisfied, s.dissatisfied,
       s.satisfied_count,
       round(s.satisfied_count::numeric / nullif(s.respondents, 0), 4),
       CASE WHEN s.respondents > 0 THEN s.satisfied_count >= %(satisfaction_threshold)s::numeric * s.respondents END
  FROM survey s
  JOIN (SELECT i.*, coalesce(cw.report_code, i.org_county_code, i.report_code) AS owner
          FROM mart.inspections_as_of(%(dates)s, %(sources)s) i
          LEFT JOIN mart.county_crosswalk cw ON cw.source_code = i.org_county_code) i
    ON i.as_of = s.as_of AND i.report_code = s.report_code AND i.inspection_id = s.inspection_id
  LEFT JOIN mart.rounds_as_of(%(dates)s, %(sources)s) r
    ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
  LEFT JOIN mart.org_units_as_of(%(dates)s, %(sources)s) o
    ON o.as_of = i.as_of AND o.report_code = i.owner AND o.org_id = i.org_id;
