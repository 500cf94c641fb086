-- 0002: core entities (current state) and their history (every version).
-- Columns mirror plugins/xuncha/spec/v1/entities.yml (a test keeps them equal). Each core table is keyed
-- by (county_code, <entity key>): county_code is the code of the county system that first delivered the row.
-- Common columns:
--   updated_at    the source system's last change (a row is only replaced by a newer updated_at)
--   withdrawn_at  set when a full snapshot no longer contains the row (NULL = live)
--   batch_id      the audit.batches row that last changed it

CREATE TABLE core.org_units (
    county_code   text        NOT NULL,
    org_id        text        NOT NULL,
    org_name      text        NOT NULL,
    org_type      text        NOT NULL,
    parent_org_id text,
    in_scope_from date        NOT NULL,
    in_scope_to   date,
    updated_at    timestamptz NOT NULL,
    withdrawn_at  timestamptz,
    batch_id      bigint      NOT NULL,
    PRIMARY KEY (county_code, org_id)
);

CREATE TABLE core.rounds (
    county_code   text        NOT NULL,
    round_id      text        NOT NULL,
    term_no       integer     NOT NULL,
    round_no      integer     NOT NULL,
    round_type    text        NOT NULL,
    start_date    date        NOT NULL,
    end_date      date,
    updated_at    timestamptz NOT NULL,
    withdrawn_at  timestamptz,
    batch_id      bigint      NOT NULL,
    PRIMARY KEY (county_code, round_id)
);

CREATE TABLE core.inspections (
    county_code     text        NOT NULL,
    inspection_id   text        NOT NULL,
    round_id        text        NOT NULL,
    org_id          text        NOT NULL,
    org_county_code text,
    team_name       text        NOT NULL,
    onsite_start    date        NOT NULL,
    onsite_end      date,
    feedback_date   date,
    updated_at      timestamptz NOT NULL,
    withdrawn_at    timestamptz,
    batch_id        bigint      NOT NULL,
    PRIMARY KEY (county_code, inspection_id)
);

CREATE TABLE core.findings (
    county_code   text        NOT NULL,
    finding_id    text        NOT NULL,
    inspection_id text        NOT NULL,
    category      text        NOT NULL,
    found_date    date        NOT NULL,
    summary       text        NOT NULL,
    updated_at    timestamptz NOT NULL,
    withdrawn_at  timestamptz,
    batch_id      bigint      NOT NULL,
    PRIMARY KEY (county_code, finding_id)
);

CREATE TABLE core.clues (
    county_code     text        NOT NULL,
    clue_id         text        NOT NULL,
    inspection_id   text        NOT NULL,
    recipient       text        NOT NULL,
    transfer_date   date        NOT NULL,
    disposal_method text,
    closed_date     date,
    updated_at      timestamptz NOT NULL,
    withdrawn_at    timestamptz,
    batch_id        bigint      NOT NULL,
    PRIMARY KEY (county_code, clue_id)
);

CREATE TABLE core.case_outcomes (
    county_code      text          NOT NULL,
    outcome_id       text          NOT NULL,
    clue_id          text          NOT NULL,
    person_ref       text          NOT NULL,   -- keyed hash (HMAC-SHA256), never the value the county sent
    outcome_type     text          NOT NULL,
    person_rank      text          NOT NULL,
    decision_date    date          NOT NULL,
    amount_recovered numeric(16,2),
    updated_at       timestamptz   NOT NULL,
    withdrawn_at     timestamptz,
    batch_id         bigint        NOT NULL,
    PRIMARY KEY (county_code, outcome_id)
);

CREATE TABLE core.rectifications (
    county_code     text        NOT NULL,
    task_id         text        NOT NULL,
    inspection_id   text        NOT NULL,
    finding_id      text,
    responsible_org text        NOT NULL,
    due_date        date        NOT NULL,
    status          text        NOT NULL,
    completed_date  date,
    updated_at      timestamptz NOT NULL,
    withdrawn_at    timestamptz,
    batch_id        bigint      NOT NULL,
    PRIMARY KEY (county_code, task_id)
);

CREATE TABLE core.satisfaction_surveys (
    county_code         text        NOT NULL,
    survey_id           text        NOT NULL,
    inspection_id       text        NOT NULL,
    survey_date         date        NOT NULL,
    respondents         integer     NOT NULL,
    satisfied           integer     NOT NULL,
    basically_satisfied integer     NOT NULL,
    dissatisfied        integer     NOT NULL,
    updated_at          timestamptz NOT NULL,
    withdrawn_at        timestamptz,
    batch_id            bigint      NOT NULL,
    PRIMARY KEY (county_code, survey_id)
);

-- History: one row per version of a core row. `change` is insert, update or withdraw; a version is in
-- force from its updated_at (withdraw: from withdrawn_at) until the next version of the same key.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('org_units', 'org_id'), ('rounds', 'round_id'), ('inspections', 'inspection_id'),
        ('findings', 'finding_id'), ('clues', 'clue_id'), ('case_outcomes', 'outcome_id'),
        ('rectifications', 'task_id'), ('satisfaction_surveys', 'survey_id')) AS v(tbl, key)
    LOOP
        EXECUTE format(
            'CREATE TABLE history.%1$I (LIKE core.%1$I INCLUDING DEFAULTS,'
            ' change text NOT NULL CHECK (change IN (''insert'', ''update'', ''withdraw'')),'
            ' recorded_at timestamptz NOT NULL DEFAULT now())', t.tbl);
        EXECUTE format('CREATE INDEX %1$I ON history.%2$I (county_code, %3$I, updated_at)',
                       t.tbl || '_by_key', t.tbl, t.key);
        EXECUTE format('CREATE INDEX %1$I ON history.%2$I (batch_id)', t.tbl || '_by_batch', t.tbl);
    END LOOP;
END $$;
