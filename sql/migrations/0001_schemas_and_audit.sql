-- 0001: the warehouse's layers and the audit trail of every export.
--   staging  raw rows of one batch as delivered (all text), dropped after publish
--   core     conformed current state, keyed by (county_code, source key)
--   history  every version of every core row (for metrics as of a past date)
--   mart     one table per question a report consumer asks
--   audit    batches, files, validation results, watermarks

CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS history;
CREATE SCHEMA IF NOT EXISTS mart;
CREATE SCHEMA IF NOT EXISTS audit;

-- One row per export delivery attempt (导出批次).
CREATE TABLE audit.batches (
    batch_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    export_id       text        NOT NULL,
    county_code     text        NOT NULL,
    business_date   date,
    mode            text        CHECK (mode IN ('delta', 'full')),
    source          text        NOT NULL,          -- landing folder or URL it came from
    manifest        jsonb,
    status          text        NOT NULL DEFAULT 'received'
                    CHECK (status IN ('received', 'loaded', 'duplicate', 'quarantined', 'failed')),
    declared_rows   bigint,
    loaded_rows     bigint,
    error           text,
    report_path     text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
-- An export id loads once per county; later deliveries of it are recorded as 'duplicate'.
CREATE UNIQUE INDEX batches_loaded_once ON audit.batches (county_code, export_id) WHERE status = 'loaded';
CREATE INDEX batches_by_county_date ON audit.batches (county_code, business_date);

-- One row per file of a batch.
CREATE TABLE audit.batch_files (
    batch_id        bigint NOT NULL REFERENCES audit.batches ON DELETE CASCADE,
    entity          text   NOT NULL,
    path            text   NOT NULL,
    format          text   NOT NULL,
    encoding        text,
    declared_sha256 text,
    actual_sha256   text,
    declared_rows   bigint,
    staged_rows     bigint,
    inserted_rows   bigint,
    updated_rows    bigint,
    unchanged_rows  bigint,
    withdrawn_rows  bigint,
    PRIMARY KEY (batch_id, entity)
);

-- One row per expectation evaluated on a batch (Great Expectations results, flattened).
CREATE TABLE audit.validation_results (
    batch_id         bigint  NOT NULL REFERENCES audit.batches ON DELETE CASCADE,
    entity           text    NOT NULL,
    expectation      text    NOT NULL,
    column_name      text,
    severity         text    NOT NULL CHECK (severity IN ('critical', 'warning')),
    success          boolean NOT NULL,
    element_count    bigint,
    unexpected_count bigint,
    sample           jsonb              -- [{row, value}, ...] of the first failing rows
);
CREATE INDEX validation_results_by_batch ON audit.validation_results (batch_id);

-- staging.is_valid(value, type): can PostgreSQL read `value` as `type` (date, timestamptz, integer, numeric)?
-- Used by the validation suites before the merge casts staged text. pg_input_is_valid (PostgreSQL 16+) is
-- fast and has no side effects; on 14/15 a PL/pgSQL fallback catches the cast error.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE $f$CREATE FUNCTION staging.is_valid(value text, type_name text) RETURNS boolean
                   LANGUAGE sql STABLE PARALLEL SAFE AS 'SELECT pg_input_is_valid(value, type_name)'$f$;
    ELSE
        EXECUTE $f$CREATE FUNCTION staging.is_valid(value text, type_name text) RETURNS boolean
                   LANGUAGE plpgsql STABLE AS $b$
                   BEGIN
                       EXECUTE format('SELECT %L::%s', value, type_name);
                       RETURN true;
                   EXCEPTION WHEN others THEN
                       RETURN false;
                   END $b$ $f$;
    END IF;
END $$;
