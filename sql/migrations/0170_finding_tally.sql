-- 0170: core.finding_tally, the current findings counted per (county system, inspection, category, found date,
-- day their version took effect), kept by statement triggers on core.findings (issue 26, P4).
-- The finding counts per inspection (the repeatable file of the findings' as-of sets) count the current versions
-- in force and found by the end of a day from it (from_day <= as_of AND found_date <= as_of; mart.day_end:
-- updated_at < day_end(d) is exactly a local date <= d), and mart.findings_by_category reads it whole: both read
-- groups, not findings. At 10 M findings a full findings_by_category took 3.7-4.1 s and a county's delta
-- 0.14-0.23 s of scanning core's partitions; now under 0.01 s (docs/performance.md, "The findings counted once").
-- Rows counted: core.findings's rows with withdrawn_at IS NULL, exactly the rows those two counted before. The
-- triggers see every write through core.findings (merge, withdraw, late, restores, tests' TRUNCATE): each
-- statement's transition tables add the new rows and take away the old ones, so the tally equals a GROUP BY of
-- core after every statement, whatever wrote it. core.add_county moves rows between partitions directly (their
-- counts do not change) and fires none of them. A count that goes below zero is an error raised in the writing
-- statement, not a figure (not a CHECK: INSERT … ON CONFLICT checks the proposed row, a negative change, before
-- it meets the conflict). tests/conftest.py's `clean` holds the tally equal to core after every test that loads.
CREATE TABLE core.finding_tally (
    county_code   text   NOT NULL,
    inspection_id text   NOT NULL,
    category      text   NOT NULL,
    found_date    date   NOT NULL,
    from_day      date   NOT NULL,     -- (updated_at AT TIME ZONE 'Asia/Shanghai')::date
    findings      bigint NOT NULL,
    PRIMARY KEY (county_code, inspection_id, category, found_date, from_day)
);
CREATE INDEX finding_tally_emptied ON core.finding_tally (findings) WHERE findings <= 0;
COMMENT ON TABLE core.finding_tally IS
    'The current, not withdrawn findings counted per county system, inspection, category, found date and the local day their version took effect; kept by triggers on core.findings (migration 0170). Loader only.';

-- Adds the statement's new rows and takes away its old ones (transition tables `added`, `removed`; withdrawn
-- rows skipped) per group, and drops the groups that reach zero. One function for the four triggers: TG_OP
-- says which transition tables exist.
CREATE FUNCTION core.tally_findings() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE core.finding_tally;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO core.finding_tally AS t
        SELECT county_code, inspection_id, category, found_date, (updated_at AT TIME ZONE 'Asia/Shanghai')::date, count(*)
          FROM added WHERE withdrawn_at IS NULL
         GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (county_code, inspection_id, category, found_date, from_day)
           DO UPDATE SET findings = t.findings + EXCLUDED.findings;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO core.finding_tally AS t
        SELECT county_code, inspection_id, category, found_date, (updated_at AT TIME ZONE 'Asia/Shanghai')::date, sum(n)
          FROM (SELECT county_code, inspection_id, category, found_date, updated_at, 1 AS n FROM added WHERE withdrawn_at IS NULL
                UNION ALL
                SELECT county_code, inspection_id, category, found_date, updated_at, -1 FROM removed WHERE withdrawn_at IS NULL) c
         GROUP BY 1, 2, 3, 4, 5
        HAVING sum(n) <> 0
        ON CONFLICT (county_code, inspection_id, category, found_date, from_day)
           DO UPDATE SET findings = t.findings + EXCLUDED.findings;
    ELSE
        INSERT INTO core.finding_tally AS t
        SELECT county_code, inspection_id, category, found_date, (updated_at AT TIME ZONE 'Asia/Shanghai')::date, -count(*)
          FROM removed WHERE withdrawn_at IS NULL
         GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (county_code, inspection_id, category, found_date, from_day)
           DO UPDATE SET findings = t.findings + EXCLUDED.findings;
    END IF;
    DELETE FROM core.finding_tally WHERE findings = 0;
    IF EXISTS (SELECT FROM core.finding_tally WHERE findings < 0) THEN
        RAISE EXCEPTION 'core.finding_tally went below zero: it no longer counts core.findings (migration 0170)';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER finding_tally_insert AFTER INSERT ON core.findings
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION core.tally_findings();
CREATE TRIGGER finding_tally_update AFTER UPDATE ON core.findings
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION core.tally_findings();
CREATE TRIGGER finding_tally_delete AFTER DELETE ON core.findings
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION core.tally_findings();
CREATE TRIGGER finding_tally_truncate AFTER TRUNCATE ON core.findings
    FOR EACH STATEMENT EXECUTE FUNCTION core.tally_findings();

INSERT INTO core.finding_tally
SELECT county_code, inspection_id, category, found_date, (updated_at AT TIME ZONE 'Asia/Shanghai')::date, count(*)
  FROM core.findings WHERE withdrawn_at IS NULL
 GROUP BY 1, 2, 3, 4, 5;
SELECT audit.apply_access();
