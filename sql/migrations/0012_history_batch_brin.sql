-- 0012: history.<entity>(batch_id) becomes a BRIN index instead of a btree.
-- History is append-only and batch ids come from a sequence, so a table's batch_id rises with its physical
-- order and a block-range index finds one batch's rows as well as the btree did, at a fraction of the cost
-- per inserted row (bench/merge_parts.py: 1 M history rows in 2.2 s instead of 2.7 s). No query filters
-- history on batch_id today (the marts only order by it within a key); the index serves audits of one
-- batch. autosummarize lets autovacuum summarize new block ranges as they fill.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_units', 'rounds', 'inspections', 'findings', 'clues', 'case_outcomes',
                             'rectifications', 'satisfaction_surveys']
    LOOP
        EXECUTE format('DROP INDEX history.%I', t || '_by_batch');
        EXECUTE format('CREATE INDEX %1$I ON history.%2$I USING brin (batch_id) WITH (autosummarize = on)',
                       t || '_by_batch', t);
    END LOOP;
END $$;
