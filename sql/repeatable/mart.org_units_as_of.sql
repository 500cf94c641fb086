-- mart.org_units_as_of(dates, codes): the rows of core.org_units as they stood at the end of each day in `dates`
-- (mart.day_end, Asia/Shanghai), withdrawn rows left out, for county codes `codes` (NULL = all).
-- Columns: as_of, report_code (mart.county_crosswalk of county_code), then core.org_units's columns.
--
-- How: core.org_units holds the current version of every key (the last recorded) and history.org_units the versions a
-- newer one superseded, each once (issue 16; sql/load/merge.sql, withdraw.sql, late.sql; migration 0090), as an
-- SQL:2011 system-versioned table and its history table. A version takes effect at valid_from (updated_at; for a
-- withdrawn version withdrawn_at). The current version is in force at the end of day d as soon as it took effect
-- (valid_from < day_end). Only a key whose current version took effect after some asked day (`late`) can have
-- an older version in force that day: those keys go through the window over history.org_units, which orders the
-- closed versions as they were recorded (recorded_at, batch_id) and gives each its valid_to: the earliest
-- valid_from among the versions recorded after it, core's current version included (`current_from`; least()
-- skips the NULL of the last closed version). A refresh passes `codes` as a literal array, so PostgreSQL prunes
-- the county partitions (0014) when it plans the query.
--
-- Repeatable object: the migration runner (xuncha.migrate) re-applies this file whenever it changes. A column
-- added to core.org_units is added to the RETURNS TABLE and both SELECT lists here.
DROP FUNCTION IF EXISTS mart.org_units_as_of(date[], text[]);
CREATE FUNCTION mart.org_units_as_of(dates date[], codes text[] DEFAULT NULL::text[])
RETURNS TABLE (
    as_of date, report_code text, county_code text, org_id text,
    org_name text, org_type text, parent_org_id text, in_scope_from date,
    in_scope_to date, updated_at timestamp with time zone, withdrawn_at timestamp with time zone, batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    WITH d AS (
        SELECT d.as_of, mart.day_end(d.as_of) AS day_end FROM unnest(dates) AS d(as_of)
    ),
    late AS (       -- keys whose last version took effect after the end of an asked day
        SELECT c.county_code, c.org_id, coalesce(c.withdrawn_at, c.updated_at) AS current_from
          FROM core.org_units c
         WHERE coalesce(c.withdrawn_at, c.updated_at) >= (SELECT min(day_end) FROM d)
           AND (codes IS NULL OR c.county_code = ANY(codes))
    )
    SELECT d.as_of, coalesce(cw.report_code, c.county_code), c.county_code, c.org_id, c.org_name, c.org_type, c.parent_org_id, c.in_scope_from, c.in_scope_to, c.updated_at, c.withdrawn_at, c.batch_id
      FROM d
      JOIN core.org_units c ON c.updated_at < d.day_end
      LEFT JOIN mart.county_crosswalk cw ON cw.source_code = c.county_code
     WHERE c.withdrawn_at IS NULL
       AND (codes IS NULL OR c.county_code = ANY(codes))
    UNION ALL
    SELECT d.as_of, coalesce(cw.report_code, v.county_code), v.county_code, v.org_id, v.org_name, v.org_type, v.parent_org_id, v.in_scope_from, v.in_scope_to, v.updated_at, v.withdrawn_at, v.batch_id
      FROM (SELECT h.*, e.valid_from,
                   least(min(e.valid_from) OVER (PARTITION BY h.county_code, h.org_id ORDER BY h.recorded_at, h.batch_id
                                                 ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING),
                         l.current_from) AS valid_to
              FROM history.org_units h
              JOIN late l USING (county_code, org_id)
             CROSS JOIN LATERAL (SELECT CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END) e(valid_from)
             WHERE codes IS NULL OR h.county_code = ANY(codes)
           ) v
      JOIN d ON v.valid_from < d.day_end AND v.valid_to >= d.day_end
      LEFT JOIN mart.county_crosswalk cw ON cw.source_code = v.county_code
     WHERE v.change <> 'withdraw'
$body$;
