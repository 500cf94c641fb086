-- 0130: each batch records the backend that handles it (issue 28), so the reaper never touches a live batch.
-- holder_pid / holder_started are pg_backend_pid() and its pg_stat_activity.backend_start when the batch was opened
-- (xuncha.load.batch_ledger.open_batch). xuncha.load.batch_ledger.recover_stale marks a `received` batch abandoned,
-- or drops a finished batch's staging, only while it holds the lineage's lock (xuncha.load.lineage_lock) and only
-- when that backend is gone. Rows from before this migration have NULLs: the lock alone decides for them.
ALTER TABLE audit.batches
    ADD COLUMN holder_pid     integer,
    ADD COLUMN holder_started timestamptz;
COMMENT ON COLUMN audit.batches.holder_pid IS 'pg_backend_pid() of the session that opened the batch (liveness for the reaper)';
COMMENT ON COLUMN audit.batches.holder_started IS 'backend_start of that session (tells a reused pid apart)';
