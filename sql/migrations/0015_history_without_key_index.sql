-- 0015: history.<entity> loses its (county_code, key, updated_at) btree index.
-- History is written on every load and read by key only through the as-of functions (0013), which join the
-- few keys that changed after a day with a hash join over one county's partition (0014); nothing probes it
-- key by key. Keeping the btree cost 1.3 s of every 1 M-row load (bench P1: 11.9 s → 10.6 s end to end).
-- An audit of one key reads its county's partition; batch_id keeps its BRIN index (0012).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_units', 'rounds', 'inspections', 'findings', 'clues', 'case_outcomes',
                             'rectifications', 'satisfaction_surveys'] LOOP
        EXECUTE format('DROP INDEX history.%I', t || '_by_key');
    END LOOP;
END $$;
