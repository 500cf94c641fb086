-- 0011: the metric marts (one table per question; sql/marts/<family>.sql fills them).
-- Every table is a dated series keyed by as_of (state at the end of that day, Asia/Shanghai) and county_code,
-- the REPORTING unit (mart.county_crosswalk.report_code: today's successor of the code that delivered the
-- rows). Rates are stored next to their numerator and denominator; rates are NULL when the denominator is 0.

-- 巡察覆盖率: coverage per unit, term and organisation type (org_type 'all' = the unit's total).
CREATE TABLE mart.coverage (
    as_of          date    NOT NULL,
    county_code    text    NOT NULL,
    term_no        integer NOT NULL,
    org_type       text    NOT NULL,
    orgs_in_scope  integer NOT NULL,           -- denominator: in scope at any time in the term up to as_of
    orgs_covered   integer NOT NULL,           -- numerator: of those, inspected in a round type that counts
    coverage_rate  numeric(7,4),
    full_coverage  boolean NOT NULL,           -- 全覆盖: orgs_covered = orgs_in_scope
    refreshed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, term_no, org_type)
);

-- 巡察轮次: rounds started per calendar year by each unit's committee, against its level's target.
CREATE TABLE mart.rounds_per_year (
    as_of            date    NOT NULL,
    county_code      text    NOT NULL,
    year             integer NOT NULL,
    level            text    NOT NULL,         -- city | county
    rounds           integer NOT NULL,
    regular_rounds   integer NOT NULL,
    special_rounds   integer NOT NULL,
    mobile_rounds    integer NOT NULL,
    linked_rounds    integer NOT NULL,
    cross_rounds     integer NOT NULL,
    escalated_rounds integer NOT NULL,
    revisit_rounds   integer NOT NULL,
    target_min       integer,
    target_max       integer,
    meets_target     boolean,                  -- NULL when the level has no target
    year_complete    boolean NOT NULL,         -- as_of is on or after 31 December of the year
    refreshed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, year)
);

-- 整改完成率: rectification completion per unit and term.
CREATE TABLE mart.rectification (
    as_of                date    NOT NULL,
    county_code          text    NOT NULL,
    term_no              integer NOT NULL,      -- 0 = the task's inspection or round is unknown
    tasks                integer NOT NULL,
    tasks_due            integer NOT NULL,      -- denominator: due_date <= as_of
    tasks_completed      integer NOT NULL,      -- numerator: due and in a completed status
    completion_rate      numeric(7,4),
    tasks_done           integer NOT NULL,      -- the numerator by status
    tasks_basically_done integer NOT NULL,
    tasks_on_the_spot    integer NOT NULL,
    tasks_overdue        integer NOT NULL,      -- due and not completed (listed in mart.rectification_overdue)
    tasks_completed_late integer NOT NULL,      -- completed, completed_date after due_date
    tasks_not_yet_due    integer NOT NULL,
    inspections_fed_back integer NOT NULL,      -- feedback_date <= as_of
    reports_due          integer NOT NULL,      -- of those, feedback_date + report_due_months <= as_of
    reports_due_with_overdue_tasks integer NOT NULL,
    refreshed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, term_no)
);

-- 整改逾期清单: one row per overdue rectification task.
CREATE TABLE mart.rectification_overdue (
    as_of           date    NOT NULL,
    county_code     text    NOT NULL,
    task_id         text    NOT NULL,
    source_code     text    NOT NULL,           -- the code of the system that first delivered the task
    term_no         integer NOT NULL,
    inspection_id   text    NOT NULL,
    org_id          text,
    responsible_org text    NOT NULL,
    status          text    NOT NULL,
    due_date        date    NOT NULL,
    days_overdue    integer NOT NULL,           -- as_of - due_date (0 = due that day, not completed by its end)
    feedback_date   date,
    report_due_date date,                       -- feedback_date + report_due_months
    refreshed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, task_id)
);

-- 整改满意率 per inspected organisation: its inspection's latest survey (by survey_date) up to as_of.
CREATE TABLE mart.satisfaction_by_org (
    as_of               date    NOT NULL,
    county_code         text    NOT NULL,       -- the inspecting unit
    inspection_id       text    NOT NULL,
    term_no             integer NOT NULL,
    org_county_code     text    NOT NULL,       -- the unit owning the organisation
    org_id              text    NOT NULL,
    org_name            text,
    org_type            text,
    survey_id           text    NOT NULL,
    survey_date         date    NOT NULL,
    surveys             integer NOT NULL,       -- surveys of this inspection up to as_of (the latest one counts)
    respondents         integer NOT NULL,       -- denominator
    satisfied           integer NOT NULL,
    basically_satisfied integer NOT NULL,
    dissatisfied        integer NOT NULL,
    satisfied_count     integer NOT NULL,       -- numerator: satisfied (+ basically_satisfied by configuration)
    satisfaction_rate   numeric(7,4),           -- NULL when nobody answered
    meets_threshold     boolean,                -- rate >= threshold; NULL when nobody answered
    refreshed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, inspection_id)
);

-- 整改满意率 rolled up per unit and term, weighted by respondents.
CREATE TABLE mart.satisfaction (
    as_of                  date    NOT NULL,
    county_code            text    NOT NULL,
    term_no                integer NOT NULL,
    orgs_surveyed          integer NOT NULL,
    orgs_zero_respondents  integer NOT NULL,
    orgs_rated             integer NOT NULL,    -- denominator of the share: surveyed with respondents > 0
    orgs_meeting_threshold integer NOT NULL,    -- numerator of the share
    threshold_share        numeric(7,4),
    respondents            integer NOT NULL,    -- denominator of the rate
    satisfied              integer NOT NULL,
    basically_satisfied    integer NOT NULL,
    dissatisfied           integer NOT NULL,
    satisfied_count        integer NOT NULL,    -- numerator of the rate
    satisfaction_rate      numeric(7,4),
    threshold              numeric(5,4) NOT NULL,
    basically_counts       boolean NOT NULL,
    refreshed_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, term_no)
);

-- 问题线索处置: clues transferred, disposed and open per unit; 清零 flag.
CREATE TABLE mart.clue_disposal (
    as_of                 date    NOT NULL,
    county_code           text    NOT NULL,
    clues_transferred     integer NOT NULL,     -- denominator: transfer_date <= as_of
    clues_disposed        integer NOT NULL,     -- numerator: closed_date <= as_of
    disposal_rate         numeric(7,4),
    clues_open            integer NOT NULL,
    open_within_rule      integer NOT NULL,     -- open, as_of <= transfer_date + feedback_months
    open_beyond_rule      integer NOT NULL,     -- open, past the feedback deadline
    disposed_within_rule  integer NOT NULL,     -- closed_date <= transfer_date + feedback_months
    open_over_clearance   integer NOT NULL,     -- open, transferred more than clearance_days before as_of
    cleared               boolean NOT NULL,     -- 清零: open_over_clearance = 0
    oldest_open_transfer  date,
    feedback_months       integer NOT NULL,
    clearance_days        integer NOT NULL,
    refreshed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code)
);

-- Ageing of open clues in month buckets (config clues.ageing_months), against the feedback rule.
CREATE TABLE mart.clue_ageing (
    as_of                date    NOT NULL,
    county_code          text    NOT NULL,
    bucket_no            integer NOT NULL,
    bucket               text    NOT NULL,      -- e.g. 3-6个月, >12个月
    months_from          integer NOT NULL,      -- open clues with transfer_date + months_from < as_of
    months_to            integer,               -- ... and as_of <= transfer_date + months_to (NULL = no bound)
    beyond_feedback_rule boolean NOT NULL,
    open_clues           integer NOT NULL,
    refreshed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, bucket_no)
);

-- 处置结果: decisions by unit, term, decision year, type and rank, with amounts recovered.
CREATE TABLE mart.outcomes (
    as_of             date          NOT NULL,
    county_code       text          NOT NULL,
    term_no           integer       NOT NULL,   -- 0 = the outcome's clue, inspection or round is unknown
    year              integer       NOT NULL,
    outcome_type      text          NOT NULL,
    person_rank       text          NOT NULL,
    outcomes          integer       NOT NULL,
    amount_recovered  numeric(18,2) NOT NULL,
    outcomes_with_amount integer    NOT NULL,
    refreshed_at      timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code, term_no, year, outcome_type, person_rank)
);

-- 巡察工作情况 term headline, in the shape the seed publishes: per unit (scope 'unit') and for the whole
-- city (scope 'city_total', county_code = the city's code), per term.
CREATE TABLE mart.term_headline (
    as_of              date          NOT NULL,
    scope              text          NOT NULL CHECK (scope IN ('unit', 'city_total')),
    county_code        text          NOT NULL,
    term_no            integer       NOT NULL,
    county_name        text          NOT NULL,
    source_codes       text[]        NOT NULL,  -- codes whose rows roll up into this row
    rounds             integer       NOT NULL,
    orgs_inspected     integer       NOT NULL,  -- distinct organisations inspected (any round type)
    findings           integer       NOT NULL,
    clues_transferred  integer       NOT NULL,
    sanctions          integer       NOT NULL,
    org_handling       integer       NOT NULL,
    detentions         integer       NOT NULL,
    judicial_transfers integer       NOT NULL,
    amount_recovered   numeric(18,2) NOT NULL,
    refreshed_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, scope, county_code, term_no)
);
