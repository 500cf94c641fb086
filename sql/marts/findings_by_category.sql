-- mart.findings_by_category: one row = the live findings of one county system in one problem category (问题类别).
-- Refreshed for the counties a night's loads touched (%(counties)s; NULL = all). Read from core.finding_tally
-- (migration 0170: core's not withdrawn findings counted per group, kept by triggers), not from the findings.
DELETE FROM mart.findings_by_category
 WHERE %(counties)s::text[] IS NULL OR county_code = ANY(%(counties)s::text[]);

INSERT INTO mart.findings_by_category (county_code, category, findings, first_found, last_found)
SELECT county_code, category, sum(findings), min(found_date), max(found_date)
  FROM core.finding_tally
 WHERE %(counties)s::text[] IS NULL OR county_code = ANY(%(counties)s::text[])
 GROUP BY county_code, category;
