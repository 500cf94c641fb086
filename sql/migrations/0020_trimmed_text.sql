-- 0020: one definition of "trimmed text" (export spec §8.4), used wherever a county's value is compared or
-- stored: the validated views the suites run on (validation), keys unique within a file, the merge's casts
-- (sql/load/merge.sql), the withdraw of a full snapshot (withdraw.sql) and the reference checks.
--
-- staging.trimmed(v): v without the white space and invisible characters copy-paste leaves at either end,
-- NULL when nothing is left (an empty field is null, §8.1). Removed at the ends, never inside the value:
--   U+0009-U+000D, U+0020, U+0085        ASCII/Latin-1 white space (tab, line breaks, space, NEL)
--   U+00A0                                no-break space (Excel, web pages)
--   U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F
--                                          the other Unicode White_Space characters
--   U+3000                                ideographic space (全角空格)
--   U+180E, U+200B-U+200D, U+2060, U+FEFF invisible: Mongolian vowel separator, zero-width space/non-joiner/
--                                          joiner, word joiner, zero-width no-break space (a stray BOM)
-- The same set is xuncha.text.TRIM_CHARS (header names, Python checks); a test holds the two equal.
-- A plain SQL function, IMMUTABLE: PostgreSQL inlines it into the calling query (no call per row).
CREATE FUNCTION staging.trimmed(v text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(btrim(v, E'\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000\u180E\u200B\u200C\u200D\u2060\uFEFF'), '') $$;

COMMENT ON FUNCTION staging.trimmed(text) IS
    'Export spec §8.4 trimmed text: Unicode white space and invisible characters removed at both ends; '
    'NULL when empty. The one definition used by validation, keys, merge, withdraw and references.';
