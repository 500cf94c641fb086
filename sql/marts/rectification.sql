-- mart.rectification — 整改完成率, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in rectification.yml. One row = one unit and one term (the term of the task's inspection's round;
-- 0 when unknown). Completion rate = tasks due by as_of (due_date <= as_of) in a completed status
-- (%(completed_statuses)s: done, basically done, fixed on the spot) over tasks due by as_of. A task completed
-- after its due date counts as completed from the day that version took effect, and in tasks_completed_late.
-- Rectification reports are due %(report_due_months)s months after feedback.
-- `insp` and `task` are the shared definitions mart.rectification_inspections_as_of and
-- mart.rectification_tasks_as_of (sql/repeatable), which rectification_overdue.sql and ledger_rectification.sql read too.
DELETE FROM mart.rectification
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH insp AS (
    SELECT * FROM mart.rectification_inspections_as_of(%(dates)s, %(sources)s, %(report_due_months)s)
),
task AS (
    SELECT * FROM mart.rectification_tasks_as_of(%(dates)s, %(sources)s, %(completed_statuses)s::text[],
                                                 %(report_due_months)s)
),
by_task AS (
    SELECT as_of, county_code, term_no,
           count(*) AS tasks,
           count(*) FILTER (WHERE due) AS due,
           count(*) FILTER (WHERE due AND completed) AS completed,
           count(*) FILTER (WHERE due AND completed AND status = 'done') AS done,
           count(*) FILTER (WHERE due AND completed AND status = 'basically_done') AS basically_done,
           count(*) FILTER (WHERE due AND completed AND status = 'on_the_spot') AS on_the_spot,
           count(*) FILTER (WHERE due AND NOT completed) AS overdue,
           count(*) FILTER (WHERE completed AND completed_date > due_date) AS completed_late,
           count(*) FILTER (WHERE NOT due) AS not_yet_due
      FROM task
     GROUP BY as_of, county_code, term_no
),
by_inspection AS (
    SELECT i.as_of, i.county_code, i.term_no,
           count(*) FILTER (WHERE i.feedback_date <= i.as_of) AS fed_back,
           count(*) FILTER (WHERE i.report_due_date <= i.as_of) AS reports_due,
           count(*) FILTER (WHERE i.report_due_date <= i.as_of AND EXISTS (
               SELECT 1 FROM task t
                WHERE t.as_of = i.as_of AND t.county_code = i.county_code AND t.inspection_id = i.inspection_id
                  AND t.due AND NOT t.completed)) AS reports_due_with_overdue
      FROM insp i
     GROUP BY i.as_of, i.county_code, i.term_no
)
INSERT INTO mart.rectification (as_of, county_code, term_no, tasks, tasks_due, tasks_completed, completion_rate,
                                tasks_done, tasks_basically_done, tasks_on_the_spot, tasks_overdue, tasks_completed_late,
                                tasks_not_yet_due, inspections_fed_back, reports_due, reports_due_with_overdue_tasks)
SELECT as_of, county_code, term_no,
       coalesce(t.tasks, 0), coalesce(t.due, 0), coalesce(t.completed, 0),
       round(t.completed::numeric / nullif(t.due, 0), 4),
       coalesce(t.done, 0), coalesce(t.basically_done, 0), coalesce(t.on_the_spot, 0), coalesce(t.overdue, 0),
       coalesce(t.completed_late, 0), coalesce(t.not_yet_due, 0),
       coalesce(i.fed_back, 0), coalesce(i.reports_due, 0), coalesce(i.reports_due_with_overdue, 0)
  FROM by_task t
  FULL JOIN by_inspection i USING (as_of, county_code, term_no);
