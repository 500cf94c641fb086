-- audit.batch_reach_of(batch_ids): the rows audit.batch_reach holds for the batches `batch_ids` (migration 0161),
-- computed from the versions they recorded: core.<entity> (the current versions: a withdrawn one is core's row
-- with this batch) and history.<entity> (versions written by these batches and superseded since), each through
-- its BRIN index on batch_id (0012, 0091), for the five entities the term headline counts. A version takes
-- effect at valid_from (updated_at; a withdrawal at withdrawn_at: mart.changed_from's rule); each entity's
-- counted-from day is the one sql/load/merge.py's COUNTED_FROM names.
-- mart.term_headline reads it for the batches loaded without a recorded reach (before 0161); bench/marts_scale.py
-- records with it what the loads it stands for would have recorded.
-- Repeatable object: re-applied by xuncha.migrate whenever this file changes.
CREATE OR REPLACE FUNCTION audit.batch_reach_of(batch_ids bigint[])
RETURNS TABLE (batch_id bigint, entity text, county_code text, last_from timestamptz, last_day date)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $body$
BEGIN
    IF coalesce(cardinality(batch_ids), 0) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH b AS (SELECT min(id) AS lo FROM unnest($1) AS id),
        v AS (%s)
        SELECT v.batch_id, v.entity, v.county_code, max(v.valid_from), max(v.day)
          FROM v
         GROUP BY v.batch_id, v.entity, v.county_code$q$,
        (SELECT string_agg(format('SELECT x.batch_id, %L AS entity, x.county_code, %s AS valid_from, x.%I AS day'
                                  ' FROM %I.%I x, b WHERE x.batch_id >= b.lo AND x.batch_id = ANY($1)',
                                  e.entity, t.valid_from, e.day, t.schema_name, e.entity),
                           ' UNION ALL ' ORDER BY e.n, t.n)
           FROM (VALUES (1, 'rounds', 'start_date'), (2, 'inspections', 'onsite_start'), (3, 'findings', 'found_date'),
                        (4, 'clues', 'transfer_date'), (5, 'case_outcomes', 'decision_date')) AS e(n, entity, day),
                (VALUES (1, 'core', 'coalesce(x.withdrawn_at, x.updated_at)'),
                        (2, 'history', $v$CASE WHEN x.change = 'withdraw' THEN x.withdrawn_at ELSE x.updated_at END$v$)
                ) AS t(n, schema_name, valid_from)))
    USING batch_ids;
END
$body$;
