-- mart.rectification_tasks_as_of(dates, codes, completed_statuses, report_due_months): the rectification tasks
-- (整改任务) as they stood at the end of each day in `dates`, for county codes `codes` (NULL = all), with their
-- inspection (mart.rectification_inspections_as_of: term, organisation, feedback and report due dates) and two
-- flags: `due` (due_date <= as_of) and `completed` (status in `completed_statuses`).
-- The one definition of a task that mart.rectification counts, mart.rectification_overdue lists (due and not
-- completed) and mart.ledger_rectification (整改台账) lists (not completed).
-- Repeatable object (xuncha.warehouse.migrate); like mart.rectification_inspections_as_of it sorts before the
-- as-of functions it reads, so its body is checked when it runs.
SET LOCAL check_function_bodies = off;
DROP FUNCTION IF EXISTS mart.rectification_tasks_as_of(date[], text[], text[], integer);
CREATE FUNCTION mart.rectification_tasks_as_of(dates date[], codes text[], completed_statuses text[],
                                               report_due_months integer)
RETURNS TABLE (
    as_of date, county_code text, source_code text, task_id text, inspection_id text, finding_id text,
    responsible_org text, status text, due_date date, completed_date date, term_no integer, org_id text,
    org_county_code text, feedback_date date, report_due_date date, due boolean, completed boolean,
    updated_at timestamp with time zone, batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    SELECT t.as_of, t.report_code, t.county_code, t.task_id, t.inspection_id, t.finding_id,
           t.responsible_org, t.status, t.due_date, t.completed_date,
           coalesce(i.term_no, 0), i.org_id, i.org_county_code, i.feedback_date, i.report_due_date,
           t.due_date <= t.as_of,
           t.status = ANY(completed_statuses),
           t.updated_at, t.batch_id
      FROM mart.rectifications_as_of(dates, codes) t
      LEFT JOIN mart.rectification_inspections_as_of(dates, codes, report_due_months) i
        ON i.as_of = t.as_of AND i.county_code = t.report_code AND i.inspection_id = t.inspection_id
$body$;
