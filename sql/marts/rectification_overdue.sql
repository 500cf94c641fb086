-- mart.rectification_overdue — 整改超期预警, the overdue-task listing, as of each day in %(dates)s, for reporting
-- units %(units)s (NULL = all). Described in rectification_overdue.yml. One row = one task due by as_of and not
-- in a completed status (%(completed_statuses)s). The `insp` and `task` sets are those of rectification.sql.
DELETE FROM mart.rectification_overdue
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH insp AS (
    SELECT i.as_of, i.report_code AS county_code, i.inspection_id, i.org_id, coalesce(r.term_no, 0) AS term_no,
           i.feedback_date, (i.feedback_date + make_interval(months => %(report_due_months)s))::date AS report_due_date
      FROM mart.inspections_as_of(%(dates)s, %(sources)s) i
      LEFT JOIN mart.rounds_as_of(%(dates)s, %(sources)s) r
        ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
),
task AS (
    SELECT t.as_of, t.report_code AS county_code, t.county_code AS source_code, t.task_id, t.inspection_id,
           t.responsible_org, t.status, t.due_date, t.completed_date,
           coalesce(i.term_no, 0) AS term_no, i.org_id, i.feedback_date, i.report_due_date,
           t.due_date <= t.as_of AS due,
           t.status = ANY(%(completed_statuses)s::text[]) AS completed
      FROM mart.rectifications_as_of(%(dates)s, %(sources)s) t
      LEFT JOIN insp i ON i.as_of = t.as_of AND i.county_code = t.report_code AND i.inspection_id = t.inspection_id
)
INSERT INTO mart.rectification_overdue (as_of, county_code, task_id, source_code, term_no, inspection_id, org_id,
                                        responsible_org, status, due_date, days_overdue, feedback_date, report_due_date)
SELECT as_of, county_code, task_id, source_code, term_no, inspection_id, org_id,
       responsible_org, status, due_date, as_of - due_date, feedback_date, report_due_date
  FROM task
 WHERE due AND NOT completed;
