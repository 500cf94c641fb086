-- mart.rectification — 整改完成率, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in rectification.yml. One row = one unit and one term (the term of the task's inspection's round;
-- 0 when unknown). Completion rate = tasks due by as_of (due_date <= as_of) in a completed status
-- (%(completed_statuses)s: done, basically done, fixed on the spot) over tasks due by as_of. A task completed
-- after its due date counts as completed from the day that version took effect, and in tasks_completed_late.
-- Rectification reports are due %(report_due_months)s months after feedback.
-- The `insp` and `task` sets are the same as in rectification_overdue.sql (which lists the overdue tasks).
DELETE FROM mart.rectification
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
