-- mart.findings_as_of(dates, codes): the rows of core.findings as they stood at the end of each day in `dates`
-- (mart.day_end, Asia/Shanghai), withdrawn rows left out, for county codes `codes` (NULL = all).
-- Columns: as_of, report_code (mart.county_crosswalk of county_code), then core.findings's columns.
--
-- How: core.findings holds the current version of every key (the last recorded) and history.findings the versions a
-- newer one superseded, each once (issue 16; sql/load/merge.sql, withdraw.sql, late.sql; migration 0090), as an
-- SQL:2011 system-versioned table and its history table. A version takes effect at valid_from (updated_at; for a
-- withdrawn version withdrawn_at). The current version is in force at the end of day d as soon as it took effect
-- (valid_from < day_end). Only a key whose current version took effect after some asked day (`late`) can have
-- an older version in force that day: those keys go through the window over history.findings, which orders the
-- closed versions as they were recorded (recorded_at, batch_id) and gives each its valid_to: the earliest
-- valid_from among the versions recorded after it, core's current version included (`current_from`; least()
-- skips the NULL of the last closed version). A refresh passes `codes` as a literal array, so PostgreSQL prunes
-- the county partitions (0014) when it plans the query.
--
-- mart.findings_superseded_as_of(dates, codes) is the second half alone (the versions history.findings holds), and
-- mart.finding_counts_as_of(dates, codes) counts per (as_of, county_code, inspection_id) the findings in force and
-- found (found_date <= as_of) by the end of each day: the current versions from core.finding_tally (migration 0170:
-- core's not withdrawn rows counted per inspection, category, found date and the local day they took effect, so
-- updated_at < day_end(as_of) is from_day <= as_of), the superseded ones in force from history as above, each
-- half grouped apart (term_headline's unit rows; issue 26, P4).
--
-- Repeatable object: the migration runner (xuncha.migrate) re-applies this file whenever it changes. A column
-- added to core.findings is added to the RETURNS TABLE and the SELECT list of both findings_as_of and
-- findings_superseded_as_of (the same shape: findings_as_of returns the second's rows as they are).
DROP FUNCTION IF EXISTS mart.finding_counts_as_of(date[], text[]);
DROP FUNCTION IF EXISTS mart.findings_as_of(date[], text[]);
DROP FUNCTION IF EXISTS mart.findings_superseded_as_of(date[], text[]);
CREATE FUNCTION mart.findings_superseded_as_of(dates date[], codes text[] DEFAULT NULL::text[])
RETURNS TABLE (
    as_of date, report_code text, county_code text, finding_id text,
    inspection_id text, category text, found_date date, summary text,
    updated_at timestamp with time zone, withdrawn_at timestamp with time zone, batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    WITH d AS (
        SELECT d.as_of, mart.day_end(d.as_of) AS day_end FROM unnest(dates) AS d(as_of)
    ),
    late AS (       -- keys whose last version took effect after the end of an asked day
        SELECT c.county_code, c.finding_id, coalesce(c.withdrawn_at, c.updated_at) AS current_from
          FROM core.findings c
         WHERE coalesce(c.withdrawn_at, c.updated_at) >= (SELECT min(day_end) FROM d)
           AND (codes IS NULL OR c.county_code = ANY(codes))
    )
    SELECT d.as_of, coalesce(cw.report_code, v.county_code), v.county_code, v.finding_id, v.inspection_id, v.category, v.found_date, v.summary, v.updated_at, v.withdrawn_at, v.batch_id
      FROM (SELECT h.*, e.valid_from,
                   least(min(e.valid_from) OVER (PARTITION BY h.county_code, h.finding_id ORDER BY h.recorded_at, h.batch_id
                                                 ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING),
                         l.current_from) AS valid_to
              FROM history.findings h
              JOIN late l USING (county_code, finding_id)
             CROSS JOIN LATERAL (SELECT CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END) e(valid_from)
             WHERE codes IS NULL OR h.county_code = ANY(codes)
           ) v
      JOIN d ON v.valid_from < d.day_end AND v.valid_to >= d.day_end
      LEFT JOIN mart.county_crosswalk cw ON cw.source_code = v.county_code
     WHERE v.change <> 'withdraw'
$body$;

CREATE FUNCTION mart.findings_as_of(dates date[], codes text[] DEFAULT NULL::text[])
RETURNS TABLE (
    as_of date, report_code text, county_code text, finding_id text,
    inspection_id text, category text, found_date date, summary text,
    updated_at timestamp with time zone, withdrawn_at timestamp with time zone, batch_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    SELECT d.as_of, coalesce(cw.report_code, c.county_code), c.county_code, c.finding_id, c.inspection_id, c.category, c.found_date, c.summary, c.updated_at, c.withdrawn_at, c.batch_id
      FROM unnest(dates, mart.day_ends(dates)) AS d(as_of, day_end)
      JOIN core.findings c ON c.updated_at < d.day_end
      LEFT JOIN mart.county_crosswalk cw ON cw.source_code = c.county_code
     WHERE c.withdrawn_at IS NULL
       AND (codes IS NULL OR c.county_code = ANY(codes))
    UNION ALL
    SELECT * FROM mart.findings_superseded_as_of(dates, codes)
$body$;

CREATE FUNCTION mart.finding_counts_as_of(dates date[], codes text[] DEFAULT NULL::text[])
RETURNS TABLE (as_of date, county_code text, inspection_id text, findings bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    SELECT as_of, county_code, inspection_id, sum(n)::bigint
      FROM (SELECT d.as_of, t.county_code, t.inspection_id, sum(t.findings) AS n   -- the current versions (core)
              FROM unnest(dates) AS d(as_of)
              JOIN core.finding_tally t ON t.from_day <= d.as_of AND t.found_date <= d.as_of
             WHERE codes IS NULL OR t.county_code = ANY(codes)
             GROUP BY 1, 2, 3
            UNION ALL
            SELECT s.as_of, s.county_code, s.inspection_id, count(*)               -- the superseded ones in force
              FROM mart.findings_superseded_as_of(dates, codes) s
             WHERE s.found_date <= s.as_of
             GROUP BY 1, 2, 3) n
     GROUP BY 1, 2, 3
$body$;
