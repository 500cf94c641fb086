-- 0090: history.<entity> keeps only the versions a newer one superseded (issue 16, "write each row once").
--
-- Until now the loader wrote every inserted or changed row twice: to core (the current version) and to history
-- (every version, the current one included). From this migration on core holds the current version and history
-- the closed ones, as an SQL:2011 system-versioned table keeps current rows in the table and closed versions in
-- its history table: sql/load/merge.sql and withdraw.sql move the version they supersede to history (UPDATE …
-- RETURNING old.*), a fresh insert writes no history row, and late.sql writes a late older version to history
-- at its own place. The as-of functions (one file each in sql/repeatable) take core's current version as the
-- last of a key's versions, so a version in force at the end of a day is the current core row if it took effect
-- before then, or a closed version in history whose interval contains it.
--
-- Existing warehouses: the history row that is exactly the current core row (every column of core equal, NULLs
-- included: the same key, updated_at, withdrawn_at and batch) is that key's current version recorded twice; it is
-- deleted. Every other history row is a closed version and stays, with its recorded_at and change. One transaction
-- (the migration runner's). Rows of a key that core no longer holds stay in history as they are.
DO $$
DECLARE
    t record;
    cols text;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('org_units', 'org_id'), ('rounds', 'round_id'), ('inspections', 'inspection_id'),
        ('findings', 'finding_id'), ('clues', 'clue_id'), ('case_outcomes', 'outcome_id'),
        ('rectifications', 'task_id'), ('satisfaction_surveys', 'survey_id')) AS v(tbl, key)
    LOOP
        SELECT string_agg(format('h.%1$I IS NOT DISTINCT FROM c.%1$I', a.attname), ' AND ' ORDER BY a.attnum)
          INTO cols
          FROM pg_attribute a
         WHERE a.attrelid = format('core.%I', t.tbl)::regclass AND a.attnum > 0 AND NOT a.attisdropped;
        EXECUTE format('DELETE FROM history.%1$I h USING core.%1$I c'
                       ' WHERE h.county_code = c.county_code AND h.%2$I = c.%2$I AND %3$s', t.tbl, t.key, cols);
    END LOOP;
END $$;
