-- 0151: published editions (发布版本), issue 25. `xuncha report publish --as-of D` records the figures and the lists
-- (ledgers) of day D as known at that moment, with the loaded batches they were computed from, so that a later
-- report can show what was published beside today's value, and the warehouse can recompute it (the versions of
-- those batches: xuncha.metrics.editions.as_known). An edition is immutable: nobody changes or removes it.
--   * a trigger refuses UPDATE, DELETE and TRUNCATE for every role, the owner included (only a superuser who
--     disables triggers could; docs/security.md);
--   * privileges: the loader (which publishes) may INSERT and SELECT, the reader SELECT; UPDATE, DELETE and
--     TRUNCATE are revoked from everyone, the owner too. County readers do not see editions (they hold every
--     county's figures).
-- published_at is the insert's clock time and checksum the SHA-256 of the edition's content, both set by the
-- insert trigger (a client cannot backdate an edition or give it a checksum that does not match).
CREATE SCHEMA published;
REVOKE ALL ON SCHEMA published FROM PUBLIC;

CREATE TABLE published.editions (
    edition_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    as_of         date        NOT NULL,                 -- the day the figures are of
    published_at  timestamptz NOT NULL,                 -- when published (set by the trigger)
    published_by  text        NOT NULL DEFAULT session_user,
    known_batches bigint[]    NOT NULL,                 -- the loaded audit.batches the figures were computed from
    figures       jsonb       NOT NULL,                 -- mart name → rows of that day (dated marts, not the ledgers)
    lists         jsonb       NOT NULL,                 -- ledger name → rows of that day
    checksum      text        NOT NULL                  -- SHA-256 (hex) of published.edition_content(...)
);
CREATE INDEX editions_by_day ON published.editions (as_of, published_at);

-- The bytes the checksum covers: the day, the publication time (epoch, independent of the session's time zone),
-- the batches, the figures and the lists (jsonb's text form is canonical: keys sorted, no insignificant spaces).
CREATE FUNCTION published.edition_checksum(as_of date, published_at timestamptz, known_batches bigint[],
                                           figures jsonb, lists jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(to_char(as_of, 'YYYY-MM-DD'), extract(epoch FROM published_at)::text,
                                                       known_batches, figures, lists)::text, 'UTF8')), 'hex')
$$;

CREATE FUNCTION published.editions_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    NEW.published_at := clock_timestamp();
    NEW.checksum := published.edition_checksum(NEW.as_of, NEW.published_at, NEW.known_batches, NEW.figures, NEW.lists);
    RETURN NEW;
END $$;

CREATE FUNCTION published.editions_immutable() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'published.editions is immutable: % refused (an edition is never changed or removed; publish a new one)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER editions_insert BEFORE INSERT ON published.editions FOR EACH ROW EXECUTE FUNCTION published.editions_insert();
CREATE TRIGGER editions_no_change BEFORE UPDATE OR DELETE ON published.editions
    FOR EACH ROW EXECUTE FUNCTION published.editions_immutable();
CREATE TRIGGER editions_no_truncate BEFORE TRUNCATE ON published.editions
    FOR EACH STATEMENT EXECUTE FUNCTION published.editions_immutable();

REVOKE ALL ON published.editions FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON published.editions FROM CURRENT_USER;
GRANT USAGE ON SCHEMA published TO xuncha_loader, xuncha_reader;
GRANT SELECT, INSERT ON published.editions TO xuncha_loader;
GRANT SELECT ON published.editions TO xuncha_reader;
GRANT EXECUTE ON FUNCTION published.edition_checksum(date, timestamptz, bigint[], jsonb, jsonb) TO xuncha_loader, xuncha_reader;
