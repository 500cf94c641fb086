-- 0152: the readers see the marts and the lists, not the refresh's bookkeeping (issue 25). mart.refresh_log,
-- mart.refresh_watermark, mart.state_horizon and mart.state_horizon_batches say which days and batches the marts
-- have taken in; they are the loader's (the refresh reads and writes them), not figures, and a reader browsing the
-- schema took them for marts. audit.apply_access() (0040) is redefined to grant readers every other mart table,
-- and re-run. The crosswalk stays readable (county codes and names, and the county readers' row-level security).

CREATE OR REPLACE FUNCTION audit.apply_access() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
    internal text[] := ARRAY['refresh_log', 'refresh_watermark', 'state_horizon', 'state_horizon_batches'];
BEGIN
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA staging, core, history, audit, mart TO xuncha_loader;
    GRANT TRUNCATE ON ALL TABLES IN SCHEMA staging, mart TO xuncha_loader;   -- marts are recomputed series; core, history, audit are not truncatable
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA staging, core, history, audit, mart TO xuncha_loader;
    REVOKE ALL ON ALL TABLES IN SCHEMA mart FROM xuncha_reader, xuncha_county_reader;
    GRANT SELECT ON mart.county_crosswalk TO xuncha_county_reader;
    FOR t IN SELECT c.relname,
                    EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'county_code'
                              AND NOT a.attisdropped) AS by_county
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'mart' AND c.relkind IN ('r', 'p') AND NOT c.relispartition LOOP
        IF t.relname <> ALL(internal) THEN
            EXECUTE format('GRANT SELECT ON mart.%I TO xuncha_reader', t.relname);
        END IF;
        CONTINUE WHEN NOT t.by_county;   -- not per county (e.g. the crosswalk): readers see it whole
        EXECUTE format('ALTER TABLE mart.%I ENABLE ROW LEVEL SECURITY', t.relname);
        EXECUTE format('DROP POLICY IF EXISTS loader_all ON mart.%I', t.relname);
        EXECUTE format('CREATE POLICY loader_all ON mart.%I TO xuncha_loader USING (true) WITH CHECK (true)', t.relname);
        EXECUTE format('DROP POLICY IF EXISTS reader_all ON mart.%I', t.relname);
        EXECUTE format('CREATE POLICY reader_all ON mart.%I FOR SELECT TO xuncha_reader USING (true)', t.relname);
        EXECUTE format('DROP POLICY IF EXISTS county_own ON mart.%I', t.relname);
        CONTINUE WHEN t.relname = ANY(internal);   -- the refresh's bookkeeping: the loader's alone
        EXECUTE format('GRANT SELECT ON mart.%I TO xuncha_county_reader', t.relname);
        EXECUTE format('CREATE POLICY county_own ON mart.%I FOR SELECT TO xuncha_county_reader '
                       'USING (county_code IN (SELECT unnest(mart.visible_counties())))', t.relname);
    END LOOP;
END $$;

SELECT audit.apply_access();

COMMENT ON TABLE mart.refresh_log IS 'Internal (the refresh''s bookkeeping, not a figure): which (as_of, unit) pairs the marts hold and when they were computed. Loader only.';
COMMENT ON TABLE mart.refresh_watermark IS 'Internal (the refresh''s bookkeeping, not a figure): the last batch per county system the marts have taken in. Loader only.';
COMMENT ON TABLE mart.state_horizon IS 'Internal (term_headline''s bookkeeping, not a figure): per county system, the last day its rows change the headline. Loader only.';
COMMENT ON TABLE mart.state_horizon_batches IS 'Internal (term_headline''s bookkeeping, not a figure): the batches the horizon has taken in. Loader only.';
COMMENT ON TABLE mart.county_crosswalk IS '县区代码对照 County crosswalk: every county-system code (source_code) with the reporting unit (report_code) that reports its rows today (config/counties.yml). Reference for readers.';
