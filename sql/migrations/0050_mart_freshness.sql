-- mart.freshness — 数据新鲜度: one row = one county system (registry code) as of the last refresh: the newest night
-- it has loaded and how old that is, what it sent and what was quarantined in the last 30 nights and the 30 before
-- (numerators and denominators: the health DAG compares the two rates), and its open missed deadlines.
-- Refreshed by every mart refresh (sql/marts/freshness.sql) and by the hourly health DAG; read by the health DAG and
-- the reports' freshness strip.
CREATE TABLE mart.freshness (
    county_code          text        PRIMARY KEY,
    county_name          text        NOT NULL,
    active               boolean     NOT NULL,   -- the code still exports (registry active_to not passed)
    expected_night       date        NOT NULL,   -- the newest finished business night (yesterday, Asia/Shanghai)
    last_loaded_night    date,                   -- newest business_date with a loaded export (NULL: never)
    last_loaded_at       timestamptz,            -- when that load committed
    last_received_at     timestamptz,            -- newest delivery of any outcome
    age_nights           integer,                -- expected_night - last_loaded_night (0 = up to date)
    open_misses          integer     NOT NULL,   -- nights past their deadline with no export yet (迟报/漏报)
    exports_30           integer     NOT NULL,   -- exports handled for nights in (expected_night - 30, expected_night]
    quarantined_30       integer     NOT NULL,
    exports_prev_30      integer     NOT NULL,   -- the same for the 30 nights before those
    quarantined_prev_30  integer     NOT NULL,
    quarantine_rate_30   numeric(7,4),           -- quarantined_30 / exports_30 (NULL when 0 exports)
    quarantine_rate_prev numeric(7,4),
    refreshed_at         timestamptz NOT NULL DEFAULT now()
);

-- The health checks raise their own alert kinds next to the pipeline's.
ALTER TABLE audit.alerts DROP CONSTRAINT IF EXISTS alerts_kind_check;
ALTER TABLE audit.alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN (
    'deadline_missed', 'quarantined', 'stale', 'clues_overdue', 'rectification_overdue', 'quarantine_rising',
    'push_rejected'));
