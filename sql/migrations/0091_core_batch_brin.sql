-- 0091: core.<entity>(batch_id) gets a BRIN index, as history has had since 0012.
-- Since 0090 a version a batch recorded is in core until a newer one supersedes it, so "what did these batches
-- write" (the term headline's horizon, sql/marts/term_headline.sql; an audit of a batch) reads core as well as
-- history by batch_id. Without an index that is a scan of every county's core partitions on every refresh (a
-- county list computed at run time prunes no partition: PostgreSQL prunes `= ANY(array)` only for a constant).
-- BRIN is a summarising index: it does not stop an UPDATE from being HOT (PostgreSQL 16+), and costs the load
-- next to nothing; new rows of a batch sit at the end of the heap, changed ones where they were updated.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_units', 'rounds', 'inspections', 'findings', 'clues', 'case_outcomes',
                             'rectifications', 'satisfaction_surveys'] LOOP
        EXECUTE format('CREATE INDEX %1$I ON core.%2$I USING brin (batch_id) WITH (autosummarize = on)',
                       t || '_by_batch', t);
    END LOOP;
END $$;
