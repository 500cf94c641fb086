-- mart.ledger_rectification — 整改台账, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in ledger_rectification.yml. One row = one rectification task in force at as_of that
-- mart.rectification does not count as completed (tasks − tasks_completed: overdue, or not yet due): the shared
-- definition mart.rectification_tasks_as_of (sql/repeatable), with its flags (due, completed, overdue = due and
-- not completed) and days overdue. Tasks completed by their due date are not listed (the list stays the size of
-- the work still open, day after day). Provenance: the batch of the task's version in force.
DELETE FROM mart.ledger_rectification
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.ledger_rectification (as_of, county_code, source_code, task_id, term_no, inspection_id, org_id,
                                       responsible_org, status, due_date, completed_date, due, completed, overdue,
                                       days_overdue, feedback_date, report_due_date, batch_id, export_id,
                                       business_date, loaded_at)
SELECT t.as_of, t.county_code, t.source_code, t.task_id, t.term_no, t.inspection_id, t.org_id, t.responsible_org,
       t.status, t.due_date, t.completed_date, t.due, t.completed, t.due AND NOT t.completed,
       CASE WHEN t.due AND NOT t.completed THEN t.as_of - t.due_date END, t.feedback_date, t.report_due_date,
       t.batch_id, b.export_id, b.business_date, b.finished_at
  FROM mart.rectification_tasks_as_of(%(dates)s, %(sources)s, %(completed_statuses)s::text[],
                                      %(report_due_months)s) t
  LEFT JOIN audit.batches b ON b.batch_id = t.batch_id
 WHERE NOT (t.due AND t.completed);
