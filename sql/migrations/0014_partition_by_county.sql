-- 0014: core and history partitioned by county system (LIST on county_code).
--
-- Every load and most mart refreshes touch one county system: its rows are then read from its own partitions
-- instead of from pages shared with every other county (a night's loads interleave the counties, so one
-- county's rows end up on nearly every page of an unpartitioned table). A county's partitions are made by
-- core.add_county(code) when it first loads (xuncha.pipeline); rows of a code without partitions go to the
-- DEFAULT partitions, and add_county moves them. Indexes, keys and defaults are those of the tables replaced.
DO $$
DECLARE
    t text;
    s text;
    view_def text;
    idx record;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_units', 'rounds', 'inspections', 'findings', 'clues', 'case_outcomes',
                             'rectifications', 'satisfaction_surveys'] LOOP
        -- mart.<t>_versions (0010) reads history.<t>: kept as it is, on the new table.
        view_def := pg_get_viewdef(format('mart.%I', t || '_versions')::regclass);
        EXECUTE format('DROP VIEW mart.%I', t || '_versions');
        FOREACH s IN ARRAY ARRAY['core', 'history'] LOOP
            EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', s, t, t || '_unpartitioned');
            FOR idx IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                        WHERE i.indrelid = format('%I.%I', s, t || '_unpartitioned')::regclass LOOP
                EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', s, idx.relname, idx.relname || '_unpartitioned');
            END LOOP;
            EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (county_code)',
                           s, t, s, t || '_unpartitioned');
            FOR idx IN SELECT c.relname, pg_get_indexdef(i.indexrelid) AS def, i.indisprimary,
                              pg_get_constraintdef(k.oid) AS con
                         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                         LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.contype = 'p'
                        WHERE i.indrelid = format('%I.%I', s, t || '_unpartitioned')::regclass LOOP
                IF idx.indisprimary THEN
                    EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', s, t, t || '_pkey', idx.con);
                ELSE
                    EXECUTE replace(replace(idx.def, idx.relname, replace(idx.relname, '_unpartitioned', '')),
                                    format(' ON %s.%s ', s, t || '_unpartitioned'), format(' ON %s.%s ', s, t));
                END IF;
            END LOOP;
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I DEFAULT', s, t || '_default', s, t);
            EXECUTE format('INSERT INTO %I.%I SELECT * FROM %I.%I', s, t, s, t || '_unpartitioned');
            EXECUTE format('DROP TABLE %I.%I', s, t || '_unpartitioned');
        END LOOP;
        EXECUTE format('CREATE VIEW mart.%I AS %s', t || '_versions', view_def);
    END LOOP;
END $$;

-- The partitions of county system `code` in core and history (a no-op when they exist). Rows of that code in
-- the DEFAULT partitions move into them. Returns whether anything was made.
CREATE FUNCTION core.add_county(code text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    s text;
    part text;
    made boolean := false;
BEGIN
    IF code !~ '^[0-9A-Za-z]{1,12}$' THEN
        RAISE EXCEPTION 'county code % is not 1-12 letters or digits', quote_literal(code);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('xuncha:partitions'));
    FOREACH t IN ARRAY ARRAY['org_units', 'rounds', 'inspections', 'findings', 'clues', 'case_outcomes',
                             'rectifications', 'satisfaction_surveys'] LOOP
        FOREACH s IN ARRAY ARRAY['core', 'history'] LOOP
            part := t || '_' || lower(code);
            CONTINUE WHEN to_regclass(format('%I.%I', s, part)) IS NOT NULL;
            EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (county_code = %L))',
                           s, part, s, t, code);
            EXECUTE format('WITH moved AS (DELETE FROM %I.%I WHERE county_code = %L RETURNING *) '
                           'INSERT INTO %I.%I SELECT * FROM moved', s, t || '_default', code, s, part);
            EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES IN (%L)', s, t, s, part, code);
            made := true;
        END LOOP;
    END LOOP;
    RETURN made;
END $$;
