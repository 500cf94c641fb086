-- 0160: who published an edition (发布人), as a reader knows them. published_by is the database role the insert ran
-- as (session_user, e.g. xuncha_loader): true but meaningless to a reader. `publisher` is the person's name given to
-- `xuncha report publish --by NAME` (default $XUNCHA_PUBLISHER, else the OS user). Like every column of an edition
-- it is set once at insert and never changed (migration 0151's triggers refuse UPDATE); it is not covered by the
-- checksum (which stays the 0151 definition, so editions published before this migration still verify). Editions
-- published before this migration have no publisher (NULL): the lists show their role instead.
ALTER TABLE published.editions ADD COLUMN publisher text CHECK (publisher IS NULL OR btrim(publisher) <> '');
COMMENT ON COLUMN published.editions.publisher IS
    '发布人: the person who published the edition, as given to xuncha report publish --by (NULL before migration 0160).';
COMMENT ON COLUMN published.editions.published_by IS
    'The database role the edition was inserted as (session_user).';
