-- 0131: readers see no per-county statistics of core (issue 28).
-- PostgreSQL lets every role read every relation's statistics, whatever its privileges on the table: the
-- pg_stat_*/pg_statio_* views (n_live_tup of core.findings_410302, …), the pg_stat_get_*(oid) functions under them,
-- pg_class.reltuples/relpages/relallvisible/relallfrozen, and pg_relation_size() and its kin (no privilege check).
-- Partitioned by county (0014), these are each county's volume, exactly. Row-level security and schema USAGE do
-- not hide catalog rows, so the fix is on the catalog's own privileges, in this database only:
--   * SELECT on the per-relation statistics views and EXECUTE on the per-relation statistics and size functions
--     are revoked from PUBLIC and granted to xuncha_loader and pg_read_all_stats (monitoring: pg_monitor);
--   * pg_class stays readable by PUBLIC column by column (names, kinds, owners: psql's \d, drivers), except the
--     four size statistics; the loader and pg_read_all_stats keep the whole table (PostgreSQL itself hides
--     pg_subscription.subconninfo this way).
-- The readers (xuncha_reader, xuncha_county_*) keep only what the roles of 0040 give. The owner is a superuser
-- (the embedded server's postgres, compose's POSTGRES_USER); changing a catalog's privileges needs one, so a
-- non-superuser owner gets a warning and the statistics stay visible (docs/security.md says so).
-- Tested as the reader roles: tests/test_reader_statistics.py.
DO $$
DECLARE
    obj text;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE WARNING '0131: % is not a superuser: readers can still read per-relation statistics '
                      '(re-run this file''s DO block as a superuser)', current_user;
        RETURN;
    END IF;
    FOR obj IN SELECT format('pg_catalog.%I', viewname) FROM pg_views
                WHERE schemaname = 'pg_catalog'
                  AND viewname ~ '^pg_stat(io)?_(xact_)?(all|user|sys)_(tables|indexes|sequences)$' LOOP
        EXECUTE format('REVOKE SELECT ON %s FROM PUBLIC', obj);
        EXECUTE format('GRANT SELECT ON %s TO xuncha_loader, pg_read_all_stats', obj);
    END LOOP;
    FOR obj IN SELECT p.oid::regprocedure::text FROM pg_proc p
                WHERE p.pronamespace = 'pg_catalog'::regnamespace
                  AND has_function_privilege('public', p.oid, 'EXECUTE')
                  AND ((p.proname LIKE 'pg\_stat\_get\_%' AND p.proargtypes = '26'::oidvector   -- one relation oid
                        AND p.proname NOT LIKE 'pg\_stat\_get\_db\_%' AND p.proname NOT LIKE '%function%'
                        AND p.proname NOT LIKE 'pg\_stat\_get\_subscription%')
                       OR p.proname IN ('pg_relation_size', 'pg_table_size', 'pg_indexes_size',
                                        'pg_total_relation_size')) LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', obj);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO xuncha_loader, pg_read_all_stats', obj);
    END LOOP;
    REVOKE SELECT ON pg_catalog.pg_class FROM PUBLIC;
    GRANT SELECT ON pg_catalog.pg_class TO xuncha_loader, pg_read_all_stats;
    EXECUTE (SELECT format('GRANT SELECT (%s) ON pg_catalog.pg_class TO PUBLIC',
                           string_agg(quote_ident(attname), ', ' ORDER BY attnum))
               FROM pg_attribute
              WHERE attrelid = 'pg_catalog.pg_class'::regclass AND attnum > 0 AND NOT attisdropped
                AND attname NOT IN ('relpages', 'reltuples', 'relallvisible', 'relallfrozen'));
END $$;
