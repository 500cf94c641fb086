-- 0040: who can read and write what (issue 12). Roles are cluster-wide, so each is made only if missing.
--
--   (owner)               the login that runs migrations (the embedded server's `postgres`, compose's POSTGRES_USER,
--                         WAREHOUSE_OWNER_URL elsewhere): owns every schema and table; the only one that changes them.
--   xuncha_loader         the pipeline (Airflow connection `xuncha_warehouse`, the embedded default): reads and writes
--                         staging, core, history, audit and mart rows (truncates only staging and mart tables); makes
--                         its own staging tables; cannot create, alter or drop anything in core, history, audit or mart.
--   xuncha_reader         report consumers: SELECT on the mart tables, nothing else (not the *_versions views over
--                         history, not staging/core/history/audit); writes nothing.
--   xuncha_county_reader  group of the county readers xuncha_county_<code> (made per config/counties.yml by
--                         `xuncha db migrate`, see xuncha.roles): SELECT on the mart tables that have a county_code,
--                         row-level security showing only rows of its own code and of the codes it continues
--                         (mart.county_crosswalk: 410307 偃师区 sees 410381 偃师市).
-- Passwords are never in SQL: `xuncha db migrate` sets them from the environment (XUNCHA_LOADER_PASSWORD, ...).
-- The grants on tables made by later migrations are re-applied by audit.apply_access() after every migrate.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['xuncha_loader', 'xuncha_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', r);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'xuncha_county_reader') THEN
        CREATE ROLE xuncha_county_reader NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO xuncha_loader, xuncha_reader, xuncha_county_reader',
                   current_database());
END $$;

-- Nothing for PUBLIC beyond what PostgreSQL gives by default; functions that change things are not PUBLIC's.
REVOKE ALL ON SCHEMA staging, core, history, audit, mart FROM PUBLIC;

-- The loader: rows, not schema. Its own staging tables and views (one per batch and entity) it makes and drops.
GRANT USAGE ON SCHEMA staging, core, history, audit, mart TO xuncha_loader;
GRANT CREATE ON SCHEMA staging TO xuncha_loader;
-- A county's partitions are made when it first loads: by the owner, through this SECURITY DEFINER function.
ALTER FUNCTION core.add_county(text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION core.add_county(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.add_county(text) TO xuncha_loader;

GRANT USAGE ON SCHEMA mart TO xuncha_reader, xuncha_county_reader;

-- The codes whose mart rows the current role may see as a county reader: each code c for which it is a member of
-- xuncha_county_<c>, and every code the crosswalk says c continues (its predecessors, config/counties.yml).
CREATE FUNCTION mart.visible_counties() RETURNS text[]
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH mine AS (
        SELECT substr(r.rolname, 15) AS code
          FROM pg_roles r
         WHERE r.rolname ~ '^xuncha_county_[0-9A-Za-z]{1,12}$' AND r.rolname <> 'xuncha_county_reader'
           AND pg_has_role(current_user, r.oid, 'USAGE'))
    SELECT coalesce(array_agg(DISTINCT c), '{}')
      FROM (SELECT code FROM mine
            UNION SELECT cw.source_code FROM mart.county_crosswalk cw JOIN mine ON cw.report_code = mine.code) v(c)
$$;
REVOKE EXECUTE ON FUNCTION mart.visible_counties() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mart.visible_counties() TO xuncha_county_reader, xuncha_loader, xuncha_reader;

-- Grants and row-level security over whatever tables exist now (re-run by `xuncha db migrate` after every
-- migration, so tables other migrations add are covered the same way). Idempotent.
CREATE FUNCTION audit.apply_access() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
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
        EXECUTE format('GRANT SELECT ON mart.%I TO xuncha_reader', t.relname);
        CONTINUE WHEN NOT t.by_county;   -- not per county (e.g. the crosswalk): readers see it whole
        EXECUTE format('ALTER TABLE mart.%I ENABLE ROW LEVEL SECURITY', t.relname);
        EXECUTE format('DROP POLICY IF EXISTS loader_all ON mart.%I', t.relname);
        EXECUTE format('CREATE POLICY loader_all ON mart.%I TO xuncha_loader USING (true) WITH CHECK (true)', t.relname);
        EXECUTE format('DROP POLICY IF EXISTS reader_all ON mart.%I', t.relname);
        EXECUTE format('CREATE POLICY reader_all ON mart.%I FOR SELECT TO xuncha_reader USING (true)', t.relname);
        EXECUTE format('DROP POLICY IF EXISTS county_own ON mart.%I', t.relname);
        EXECUTE format('GRANT SELECT ON mart.%I TO xuncha_county_reader', t.relname);
        EXECUTE format('CREATE POLICY county_own ON mart.%I FOR SELECT TO xuncha_county_reader '
                       'USING (county_code IN (SELECT unnest(mart.visible_counties())))', t.relname);
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION audit.apply_access() FROM PUBLIC;

-- Tables the owner makes later (partitions of new counties, later migrations) get the loader's grants at once.
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, core, history, audit, mart
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO xuncha_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, core, history, audit, mart
    GRANT USAGE, SELECT ON SEQUENCES TO xuncha_loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, mart GRANT TRUNCATE ON TABLES TO xuncha_loader;

SELECT audit.apply_access();
