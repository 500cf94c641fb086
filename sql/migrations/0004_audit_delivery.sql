-- 0004: delivery bookkeeping — HTTP pull watermarks, missed deadlines, alerts.

-- One row per pulled county system: the generated_at of the newest export handled (loaded, recognised as a
-- re-delivery, or quarantined with its report). A failed run leaves it unchanged, so the next run pulls again.
CREATE TABLE audit.watermarks (
    county_code  text        PRIMARY KEY,
    watermark    timestamptz NOT NULL,
    export_id    text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A night whose export had not arrived by the county's deadline (迟报/漏报).
CREATE TABLE audit.deadline_misses (
    county_code   text        NOT NULL,
    business_date date        NOT NULL,
    deadline_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    arrived_at    timestamptz,            -- set when the late export finally loads
    PRIMARY KEY (county_code, business_date)
);

-- Everything an operator must hear about: missed deadlines, quarantined exports.
CREATE TABLE audit.alerts (
    alert_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('deadline_missed', 'quarantined')),
    county_code   text        NOT NULL,
    business_date date,
    message       text        NOT NULL,
    detail        jsonb,
    raised_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_by_time ON audit.alerts (raised_at DESC);
