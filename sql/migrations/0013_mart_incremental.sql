-- 0013: marts whose cost follows the change, not the size of history.
--   1. the as-of functions of 0010 read core first, and history only for the rows that changed after a day;
--   2. mart.state_horizon: per county system, the last day its rows change the term headline, so a unit a
--      night did not touch can take its headline rows from an earlier day (sql/marts/term_headline.sql).

-- 1. Same rows as 0010. core.E holds the last recorded version of every key (the loader appends to history
-- exactly what it writes to core: sql/load/merge.sql, withdraw.sql). A key's last version has no successor, so
-- it is in force at the end of day d as soon as it took effect (valid_from < mart.day_end(d)). Only a key whose
-- last version took effect after some asked day can have an older version in force that day, and only those
-- keys go through the window over history (as in mart.E_versions). On the newest day that set is empty, and the
-- as-of set costs one scan of core instead of a sort of all of history.
-- The second argument changes meaning: county codes whose rows to read (NULL = all), not reporting units; a
-- refresh passes mart.source_codes(units) as a literal array, which PostgreSQL prunes the county partitions
-- of 0014 with when it plans the query (an expression computed at run time prunes nothing).
--   valid_from of the last version = coalesce(withdrawn_at, updated_at): a withdrawn core row's last version is
--   the withdraw (valid from withdrawn_at); a row re-sent after a withdraw is live again (withdrawn_at NULL).
DO $$
DECLARE
    t record;
    out_cols text;
    core_cols text;
    hist_cols text;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('org_units', 'org_id'), ('rounds', 'round_id'), ('inspections', 'inspection_id'),
        ('findings', 'finding_id'), ('clues', 'clue_id'), ('case_outcomes', 'outcome_id'),
        ('rectifications', 'task_id'), ('satisfaction_surveys', 'survey_id')) AS v(tbl, key)
    LOOP
        SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum),
               string_agg(format('c.%I', a.attname), ', ' ORDER BY a.attnum),
               string_agg(format('v.%I', a.attname), ', ' ORDER BY a.attnum)
          INTO out_cols, core_cols, hist_cols
          FROM pg_attribute a
         WHERE a.attrelid = format('core.%I', t.tbl)::regclass AND a.attnum > 0 AND NOT a.attisdropped;

        EXECUTE format('DROP FUNCTION mart.%I(date[], text[])', t.tbl || '_as_of');
        EXECUTE format($f$
            CREATE FUNCTION mart.%1$I(dates date[], codes text[] DEFAULT NULL)
            RETURNS TABLE (as_of date, report_code text, %2$s)
            LANGUAGE sql STABLE PARALLEL SAFE AS $body$
                WITH d AS (
                    SELECT d.as_of, mart.day_end(d.as_of) AS day_end FROM unnest(dates) AS d(as_of)
                ),
                late AS (       -- keys whose last version took effect after the end of an asked day
                    SELECT c.county_code, c.%5$I
                      FROM core.%6$I c
                     WHERE coalesce(c.withdrawn_at, c.updated_at) >= (SELECT min(day_end) FROM d)
                       AND (codes IS NULL OR c.county_code = ANY(codes))
                )
                SELECT d.as_of, coalesce(cw.report_code, c.county_code), %3$s
                  FROM d
                  JOIN core.%6$I c ON c.updated_at < d.day_end
                  LEFT JOIN mart.county_crosswalk cw ON cw.source_code = c.county_code
                 WHERE c.withdrawn_at IS NULL
                   AND (codes IS NULL OR c.county_code = ANY(codes))
                UNION ALL
                SELECT d.as_of, coalesce(cw.report_code, v.county_code), %4$s
                  FROM (SELECT h.*, e.valid_from,
                               min(e.valid_from) OVER (PARTITION BY h.county_code, h.%5$I ORDER BY h.recorded_at, h.batch_id
                                                       ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS valid_to
                          FROM history.%6$I h
                          JOIN late USING (county_code, %5$I)
                         CROSS JOIN LATERAL (SELECT CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END) e(valid_from)
                         WHERE codes IS NULL OR h.county_code = ANY(codes)
                       ) v
                  JOIN d ON v.valid_from < d.day_end AND v.valid_to >= d.day_end
                  LEFT JOIN mart.county_crosswalk cw ON cw.source_code = v.county_code
                 WHERE v.change <> 'withdraw'
            $body$
        $f$, t.tbl || '_as_of', out_cols, core_cols, hist_cols, t.key, t.tbl);
    END LOOP;
END $$;

-- 2. Per county system: the latest day on which any version of its rounds, inspections, findings, clues or case
-- outcomes takes effect (valid_from, Asia/Shanghai) or on which one of their dated events happens (round start,
-- on-site start, found, transfer, decision date). The term headline of a unit is the same on every day from the
-- horizons of its source codes on. Kept up by term_headline.sql from the loaded batches it has not read yet
-- (mart.state_horizon_batches), through history's batch_id index.
-- changed_at: when a refresh last took in a batch that changed the county's rows (a headline computed before
-- then is out of date, whatever its day).
CREATE TABLE mart.state_horizon (
    county_code text        PRIMARY KEY,
    horizon     date        NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE mart.state_horizon_batches (
    batch_id bigint PRIMARY KEY
);
