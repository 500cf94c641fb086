-- mart.satisfaction — 整改满意率 per unit and term, as of each day in %(dates)s, for reporting units %(units)s
-- (NULL = all). Described in satisfaction.yml. Rolled up from mart.satisfaction_by_org (refreshed first: see
-- depends_on) weighted by respondents (sum of numerators / sum of respondents), with the share of rated
-- organisations at or above %(satisfaction_threshold)s.
DELETE FROM mart.satisfaction
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.satisfaction (as_of, county_code, term_no, orgs_surveyed, orgs_zero_respondents, orgs_rated,
                               orgs_meeting_threshold, threshold_share, respondents, satisfied, basically_satisfied,
                               dissatisfied, satisfied_count, satisfaction_rate, threshold, basically_counts)
SELECT as_of, county_code, term_no,
       count(*),
       count(*) FILTER (WHERE respondents = 0),
       count(*) FILTER (WHERE respondents > 0),
       count(*) FILTER (WHERE meets_threshold),
       round(count(*) FILTER (WHERE meets_threshold)::numeric / nullif(count(*) FILTER (WHERE respondents > 0), 0), 4),
       sum(respondents), sum(satisfied), sum(basically_satisfied), sum(dissatisfied), sum(satisfied_count),
       round(sum(satisfied_count)::numeric / nullif(sum(respondents), 0), 4),
       %(satisfaction_threshold)s::numeric, %(count_basically_satisfied)s
  FROM mart.satisfaction_by_org
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]))
 GROUP BY as_of, county_code, term_no;
