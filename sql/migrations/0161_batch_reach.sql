-- 0161: what each loaded batch reaches of the term headline, recorded by the load (issue 26, P4).
-- One row per batch, entity and county code (the rows' own code: a successor's snapshot withdraws its
-- predecessors' rows too) for the versions the batch recorded of the five entities the headline counts: the
-- latest moment one of them takes effect (last_from: valid_from, i.e. updated_at, withdrawn_at for a withdrawal)
-- and the latest day one of them counts from (last_day: the round's start, the inspection's on-site start, the
-- finding's found date, the clue's transfer date, the outcome's decision date; sql/load/merge.py COUNTED_FROM).
-- sql/load/merge.sql and withdraw.sql write it in the export's transaction from the rows they write, so
-- mart.term_headline takes a batch into mart.state_horizon from these few rows instead of reading the batch's rows
-- again. A batch loaded without it (before this migration) is read by audit.batch_reach_of, which computes the
-- same rows from core and history (tests/test_batch_reach.py holds the two equal).
CREATE TABLE audit.batch_reach (
    batch_id    bigint      NOT NULL,  -- audit.batches's, unreferenced as in core and history
    entity      text        NOT NULL,
    county_code text        NOT NULL,
    last_from   timestamptz NOT NULL,
    last_day    date,
    PRIMARY KEY (batch_id, entity, county_code)
);
COMMENT ON TABLE audit.batch_reach IS
    'Per loaded batch, entity and county code: the latest valid_from and the latest counted-from day of the versions it recorded (the term headline''s horizon, migration 0161).';
SELECT audit.apply_access();
