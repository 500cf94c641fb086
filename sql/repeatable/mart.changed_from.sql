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
-- Repeatable object: re-applied by xuncha.migrate whenever this file changes. A new entity is added below.
CREATE OR REPLACE FUNCTION mart.changed_from(batch_ids bigint[], term_nos integer[] DEFAULT '{}')
RETURNS TABLE (batch_id bigint, county_code text, from_day date)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    WITH b AS (SELECT coalesce(min(id), 0) AS lo FROM unnest(batch_ids) AS id),
    v AS (
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at) AS valid_from, NULL::date AS day
          FROM core.org_units c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END, NULL
          FROM history.org_units h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at),
               CASE WHEN c.term_no <> ALL(term_nos) THEN c.start_date END
          FROM core.rounds c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END,
               CASE WHEN h.term_no <> ALL(term_nos) THEN h.start_date END
          FROM history.rounds h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at), NULL
          FROM core.inspections c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END, NULL
          FROM history.inspections h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at), NULL
          FROM core.findings c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END, NULL
          FROM history.findings h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at), NULL
          FROM core.clues c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END, NULL
          FROM history.clues h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at), NULL
          FROM core.case_outcomes c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END, NULL
          FROM history.case_outcomes h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at), NULL
          FROM core.rectifications c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END, NULL
          FROM history.rectifications h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT c.batch_id, c.county_code, coalesce(c.withdrawn_at, c.updated_at), NULL
          FROM core.satisfaction_surveys c, b WHERE c.batch_id >= b.lo AND c.batch_id = ANY(batch_ids)
        UNION ALL
        SELECT h.batch_id, h.county_code, CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END, NULL
          FROM history.satisfaction_surveys h, b WHERE h.batch_id >= b.lo AND h.batch_id = ANY(batch_ids)
    )
    SELECT batch_id, county_code, least((min(valid_from) AT TIME ZONE 'Asia/Shanghai')::date, min(day))
      FROM v
     GROUP BY batch_id, county_code
$body$;
