-- mart.changed_from(batch_ids, term_nos): for each batch of `batch_ids` and each county code whose rows it wrote,
-- the first day (Asia/Shanghai) whose marts those rows can change. One row per batch and county code (the rows' own
-- code: a successor county's full snapshot withdraws rows of its predecessors' codes too); none for a batch that
-- wrote no version.
--
-- Why it is a lower bound (issue 28): every dated mart reads the versions in force at the end of its day
-- (mart.<entity>_as_of, mart.day_end). A version takes effect at valid_from (updated_at; for a withdrawn version
-- withdrawn_at), and a version's end is the earliest valid_from among the versions recorded after it. So a version
-- a batch writes — a late night, a corrected re-export, a late older version placed at its own place (late.sql), a
-- full snapshot's withdrawal (withdraw.sql) — changes what is in force only at and after its own valid_from: the
-- days d with valid_from < day_end(d), i.e. its local date and every later day. The versions it superseded keep
-- their batch_id and move to history; their end moves to the new version's valid_from, which is counted here.
-- One read of no version: mart.coverage takes a term number absent from config/metrics.yml (`term_nos`) as
-- running from the earliest start_date among all versions of its rounds, whenever they were recorded; such a
-- round counts from its start_date too.
--
-- Reads: core.<entity> (the current versions: a withdrawn one is core's row with this batch) and history.<entity>
-- (versions written by these batches and superseded since), each through its BRIN index on batch_id (0012, 0091).
-- One branch per table, built from the entity list below (xuncha.spec.ENTITY_ORDER; as 0090 and 0091 loop over
-- it) and run as one UNION ALL query with the arguments bound (EXECUTE … USING: planned for the actual batches, as
-- the inlined SQL function was). A new entity is one more name in the list; rounds alone carry a term's start.
-- Repeatable object: re-applied by xuncha.migrate whenever this file changes.
CREATE OR REPLACE FUNCTION mart.changed_from(batch_ids bigint[], term_nos integer[] DEFAULT '{}')
RETURNS TABLE (batch_id bigint, county_code text, from_day date)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $body$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH b AS (SELECT coalesce(min(id), 0) AS lo FROM unnest($1) AS id),
        v AS (%s)
        SELECT v.batch_id, v.county_code, least((min(v.valid_from) AT TIME ZONE 'Asia/Shanghai')::date, min(v.day))
          FROM v
         GROUP BY v.batch_id, v.county_code$q$,
        (SELECT string_agg(format('SELECT x.batch_id, x.county_code, %s AS valid_from, %s AS day'
                                  ' FROM %I.%I x, b WHERE x.batch_id >= b.lo AND x.batch_id = ANY($1)',
                                  t.valid_from,
                                  CASE e.entity WHEN 'rounds' THEN 'CASE WHEN x.term_no <> ALL($2) THEN x.start_date END'
                                                ELSE 'NULL::date' END,
                                  t.schema_name, e.entity),
                           ' UNION ALL ' ORDER BY e.n, t.n)
           FROM unnest(ARRAY['org_units', 'rounds', 'inspections', 'findings', 'clues', 'case_outcomes',
                             'rectifications', 'satisfaction_surveys']) WITH ORDINALITY AS e(entity, n),
                -- when a version takes effect: core's withdrawn row at its withdrawal; in history a withdrawal
                -- version (change 'withdraw') at withdrawn_at, any other at updated_at
                (VALUES (1, 'core', 'coalesce(x.withdrawn_at, x.updated_at)'),
                        (2, 'history', $v$CASE WHEN x.change = 'withdraw' THEN x.withdrawn_at ELSE x.updated_at END$v$)
                ) AS t(n, schema_name, valid_from)))
    USING batch_ids, term_nos;
END
$body$;
