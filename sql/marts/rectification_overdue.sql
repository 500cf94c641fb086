-- mart.rectification_overdue — 整改超期预警, the overdue-task listing, as of each day in %(dates)s, for reporting
-- units %(units)s (NULL = all). Described in rectification_overdue.yml. One row = one task due by as_of and not
-- in a completed status (%(completed_statuses)s). `task` is the shared definition
-- mart.rectification_tasks_as_of (sql/repeatable), which rectification.sql counts.
DELETE FROM mart.rectification_overdue
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH task AS (
    SELECT * FROM mart.rectification_tasks_as_of(%(dates)s, %(sources)s, %(completed_statuses)s::text[],
                                                 %(report_due_months)s)
)
INSERT INTO mart.rectification_overdue (as_of, county_code, task_id, source_code, term_no, inspection_id, org_id,
                                        responsible_org, status, due_date, days_overdue, feedback_date, report_due_date)
SELECT as_of, county_code, task_id, source_code, term_no, inspection_id, org_id,
       responsible_org, status, due_date, as_of - due_date, feedback_date, report_due_date
  FROM task
 WHERE due AND NOT completed;
