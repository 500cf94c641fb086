-- 0150: the ledgers (台账), issue 25: for each figure family the list of the rows behind it, as of each day, with
-- where each row came from (the county system, the export, the night: audit.batches copied in, since readers do
-- not read audit). Filled by sql/marts/ledger_*.sql from the same definitions as the figures they explain
-- (the shared definitions in sql/repeatable); described in sql/marts/ledger_*.yml. Row-level security and the readers'
-- grants come from audit.apply_access() (0040), as for every mart table with a county_code.

-- 未巡察单位: organisations in scope in a term and not yet inspected (mart.coverage's orgs_in_scope − orgs_covered).
CREATE TABLE mart.ledger_uninspected (
    as_of         date    NOT NULL,
    county_code   text    NOT NULL,
    term_no       integer NOT NULL,
    source_code   text    NOT NULL,
    org_id        text    NOT NULL,
    org_name      text    NOT NULL,
    org_type      text    NOT NULL,
    in_scope_from date    NOT NULL,
    in_scope_to   date,
    term_start    date    NOT NULL,
    term_end      date,
    batch_id      bigint  NOT NULL,
    export_id     text,
    business_date date,
    loaded_at     timestamptz,
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, term_no, source_code, org_id)
);

-- 整改台账: every task not counted as completed, overdue or not yet due (mart.rectification's tasks − tasks_completed).
CREATE TABLE mart.ledger_rectification (
    as_of           date    NOT NULL,
    county_code     text    NOT NULL,
    source_code     text    NOT NULL,
    task_id         text    NOT NULL,
    term_no         integer NOT NULL,
    inspection_id   text    NOT NULL,
    org_id          text,
    responsible_org text    NOT NULL,
    status          text    NOT NULL,
    due_date        date    NOT NULL,
    completed_date  date,
    due             boolean NOT NULL,
    completed       boolean NOT NULL,
    overdue         boolean NOT NULL,
    days_overdue    integer,
    feedback_date   date,
    report_due_date date,
    batch_id        bigint  NOT NULL,
    export_id       text,
    business_date   date,
    loaded_at       timestamptz,
    refreshed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, source_code, task_id)
);

-- 线索台账: every clue not disposed (mart.clue_disposal's clues_open and its parts).
CREATE TABLE mart.ledger_clues (
    as_of           date    NOT NULL,
    county_code     text    NOT NULL,
    source_code     text    NOT NULL,
    clue_id         text    NOT NULL,
    inspection_id   text    NOT NULL,
    recipient       text    NOT NULL,
    transfer_date   date    NOT NULL,
    feedback_due    date    NOT NULL,
    disposal_method text,
    closed_date     date,
    disposed        boolean NOT NULL,
    beyond_rule     boolean NOT NULL,
    over_clearance  boolean NOT NULL,
    days_open       integer,
    batch_id        bigint  NOT NULL,
    export_id       text,
    business_date   date,
    loaded_at       timestamptz,
    refreshed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, source_code, clue_id)
);

-- 满意率未达标单位: organisations rated below the satisfaction line (mart.satisfaction's orgs_rated − orgs_meeting_threshold).
CREATE TABLE mart.ledger_satisfaction (
    as_of           date    NOT NULL,
    county_code     text    NOT NULL,
    inspection_id   text    NOT NULL,
    term_no         integer NOT NULL,
    org_county_code text,
    org_id          text,
    org_name        text,
    org_type        text,
    survey_id       text    NOT NULL,
    survey_date     date    NOT NULL,
    respondents     integer NOT NULL,
    satisfied_count integer NOT NULL,
    satisfaction_rate numeric(7,4),
    threshold       numeric(7,4) NOT NULL,
    source_code     text    NOT NULL,
    batch_id        bigint  NOT NULL,
    export_id       text,
    business_date   date,
    loaded_at       timestamptz,
    refreshed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, inspection_id)
);

-- 处置结果台账: every decision made by as_of (mart.outcomes' counts).
CREATE TABLE mart.ledger_outcomes (
    as_of            date    NOT NULL,
    county_code      text    NOT NULL,
    source_code      text    NOT NULL,
    outcome_id       text    NOT NULL,
    term_no          integer NOT NULL,
    year             integer NOT NULL,
    clue_id          text    NOT NULL,
    inspection_id    text,
    org_id           text,
    outcome_type     text    NOT NULL,
    person_rank      text    NOT NULL,
    decision_date    date    NOT NULL,
    amount_recovered numeric(16,2),
    batch_id         bigint  NOT NULL,
    export_id        text,
    business_date    date,
    loaded_at        timestamptz,
    refreshed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, source_code, outcome_id)
);
