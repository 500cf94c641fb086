-- mart.rectification_inspections_as_of(dates, codes, report_due_months): the inspections the rectification marts
-- and the 整改台账 count, as they stood at the end of each day in `dates`, for county codes `codes` (NULL = all).
-- One row = one inspection of a reporting unit (mart.inspections_as_of), with the term of its round (0 when the
-- round is unknown) and the day its rectification report is due (feedback_date + report_due_months).
-- Read by sql/marts/rectification.sql and, through mart.rectification_tasks_as_of, by rectification_overdue.sql
-- and ledger_rectification.sql: one definition, so the list and the figure count the same inspections.
-- Repeatable object (xuncha.warehouse.migrate). Files run in name order and this one sorts before the as-of
-- functions it reads, so the body is checked when it runs, not when it is made (as pg_dump does).
SET LOCAL check_function_bodies = off;
DROP FUNCTION IF EXISTS mart.rectification_inspections_as_of(date[], text[], integer);
CREATE FUNCTION mart.rectification_inspections_as_of(dates date[], codes text[], report_due_months integer)
RETURNS TABLE (
    as_of date, county_code text, source_code text, inspection_id text, org_id text, org_county_code text,
    term_no integer, round_id text, feedback_date date, report_due_date date, batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    SELECT i.as_of, i.report_code, i.county_code, i.inspection_id, i.org_id, i.org_county_code,
           coalesce(r.term_no, 0), i.round_id,
           i.feedback_date, (i.feedback_date + make_interval(months => report_due_months))::date, i.batch_id
      FROM mart.inspections_as_of(dates, codes) i
      LEFT JOIN mart.rounds_as_of(dates, codes) r
        ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
$body$;
