-- mart.clue_status_as_of(dates, codes, feedback_months): the clues (问题线索) transferred by the end of each day in
-- `dates` (transfer_date <= as_of), as they stood then, for county codes `codes` (NULL = all), with two flags:
-- `disposed` (办结: the version in force has a closed_date <= as_of, so a clue re-opened by a newer version is
-- open again) and `beyond_rule` (as_of > transfer_date + feedback_months, the three-month feedback rule).
-- The one definition of a clue that mart.clue_disposal and mart.clue_ageing count and mart.ledger_clues (线索台账)
-- lists. Repeatable object (xuncha.warehouse.migrate); it sorts before mart.clues_as_of, which it reads, so its
-- body is checked when it runs.
SET LOCAL check_function_bodies = off;
DROP FUNCTION IF EXISTS mart.clue_status_as_of(date[], text[], integer);
CREATE FUNCTION mart.clue_status_as_of(dates date[], codes text[], feedback_months integer)
RETURNS TABLE (
    as_of date, county_code text, source_code text, clue_id text, inspection_id text, recipient text,
    transfer_date date, disposal_method text, closed_date date, disposed boolean, beyond_rule boolean,
    updated_at timestamp with time zone, batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    SELECT as_of, report_code, county_code, clue_id, inspection_id, recipient, transfer_date, disposal_method,
           closed_date,
           closed_date IS NOT NULL AND closed_date <= as_of,
           as_of > transfer_date + make_interval(months => feedback_months),
           updated_at, batch_id
      FROM mart.clues_as_of(dates, codes)
     WHERE transfer_date <= as_of
$body$;
