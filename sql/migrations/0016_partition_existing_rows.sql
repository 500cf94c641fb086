-- 0016: rows loaded before 0014 move from the DEFAULT partitions into their counties' own, now (a maintenance
-- step) rather than inside each county's first load after the upgrade. A no-op on a new warehouse.
DO $$
DECLARE
    union_sql text;
    code text;
BEGIN
    SELECT string_agg(format('SELECT county_code FROM %I.%I', s, t || '_default'), ' UNION ')
      INTO union_sql
      FROM unnest(ARRAY['core', 'history']) s,
           unnest(ARRAY['org_units', 'rounds', 'inspections', 'findings', 'clues', 'case_outcomes',
                        'rectifications', 'satisfaction_surveys']) t;
    FOR code IN EXECUTE union_sql LOOP
        PERFORM core.add_county(code);
    END LOOP;
END $$;
