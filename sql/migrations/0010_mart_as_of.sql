-- 0010: the as-of layer every metric mart reads, written once: county crosswalk, versions with their
-- validity, and one function per entity giving the rows as they stood at the end of given days.

-- Division code crosswalk (区划代码对照), refilled from config/counties.yml at every refresh.
-- One row = one county-level code the registry knows, with the unit that reports it today: the end of its
-- successor chain (410322 孟津县 and 410306 吉利区 → 410308 孟津区; 410381 偃师市 → 410307 偃师区; every
-- other code → itself). Marts report by report_code, so a series runs unbroken across 2021.
CREATE TABLE mart.county_crosswalk (
    source_code  text PRIMARY KEY,
    source_name  text NOT NULL,
    level        text NOT NULL,
    active_from  date NOT NULL,
    active_to    date,
    report_code  text NOT NULL,
    report_name  text NOT NULL
);
CREATE INDEX county_crosswalk_by_report ON mart.county_crosswalk (report_code);

-- The end of business day `d`: the instant the state "as of d" is taken (Asia/Shanghai, the counties' zone).
CREATE FUNCTION mart.day_end(d date) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((d + 1)::timestamp AT TIME ZONE 'Asia/Shanghai');

-- The source codes whose rows roll up into reporting units `units` (the units themselves included).
CREATE FUNCTION mart.source_codes(units text[]) RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN units || ARRAY(SELECT source_code FROM mart.county_crosswalk WHERE report_code = ANY(units));

-- For each entity E:
--   view mart.E_versions: every version in history.E with valid_from (its updated_at; for a withdraw its
--       withdrawn_at) and valid_to (the earliest valid_from among the versions recorded after it, NULL =
--       still in force). Versions are ordered as they were recorded (recorded_at, batch_id): a row re-sent
--       after a full snapshot withdrew it comes back even though its updated_at is older than the withdraw.
--       A version whose successor takes effect no later than it does was never in force (valid_to <= valid_from).
--   function mart.E_as_of(dates date[], units text[] DEFAULT NULL): for each day in `dates`, the rows in
--       force at mart.day_end(day), withdrawn rows left out, restricted to reporting units `units` (NULL =
--       all). Columns: as_of, report_code (crosswalk of county_code), then core.E's columns.
DO $$
DECLARE
    t record;
    out_cols text;
    sel_cols text;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('org_units', 'org_id'), ('rounds', 'round_id'), ('inspections', 'inspection_id'),
        ('findings', 'finding_id'), ('clues', 'clue_id'), ('case_outcomes', 'outcome_id'),
        ('rectifications', 'task_id'), ('satisfaction_surveys', 'survey_id')) AS v(tbl, key)
    LOOP
        SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum),
               string_agg(format('v.%I', a.attname), ', ' ORDER BY a.attnum)
          INTO out_cols, sel_cols
          FROM pg_attribute a
         WHERE a.attrelid = format('core.%I', t.tbl)::regclass AND a.attnum > 0 AND NOT a.attisdropped;

        EXECUTE format($v$
            CREATE VIEW mart.%1$I AS
            SELECT h.*, e.valid_from,
                   min(e.valid_from) OVER (PARTITION BY h.county_code, h.%3$I ORDER BY h.recorded_at, h.batch_id
                                           ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS valid_to
              FROM history.%2$I h
             CROSS JOIN LATERAL (SELECT CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END) e(valid_from)
        $v$, t.tbl || '_versions', t.tbl, t.key);

        EXECUTE format($f$
            CREATE FUNCTION mart.%1$I(dates date[], units text[] DEFAULT NULL)
            RETURNS TABLE (as_of date, report_code text, %2$s)
            LANGUAGE sql STABLE PARALLEL SAFE AS $body$
                SELECT d.as_of, coalesce(cw.report_code, v.county_code), %3$s
                  FROM unnest(dates) AS d(as_of)
                  JOIN mart.%4$I v
                    ON v.valid_from < mart.day_end(d.as_of)
                   AND (v.valid_to IS NULL OR v.valid_to >= mart.day_end(d.as_of))
                  LEFT JOIN mart.county_crosswalk cw ON cw.source_code = v.county_code
                 WHERE v.change <> 'withdraw'
                   AND (units IS NULL OR v.county_code = ANY(mart.source_codes(units)))
            $body$
        $f$, t.tbl || '_as_of', out_cols, sel_cols, t.tbl || '_versions');
    END LOOP;
END $$;

-- Which (day, reporting unit) pairs the dated series holds: written by every refresh, so a missing mart row
-- means "nothing to report" when the pair is here and "not computed yet" when it is not.
CREATE TABLE mart.refresh_log (
    as_of        date        NOT NULL,
    county_code  text        NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, county_code)
);

-- Per county system: the newest audit.batches row the marts have taken in. A refresh without explicit
-- dates computes the business dates of the loaded batches above it (the nights that changed something).
CREATE TABLE mart.refresh_watermark (
    county_code   text        PRIMARY KEY,
    last_batch_id bigint      NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
