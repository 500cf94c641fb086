-- 0171: staging.is_strict_date(value) and staging.is_strict_timestamp(value): exactly `value ~ strict_format` of
-- the spec's date and timestamp (xuncha.spec: YYYY-MM-DD; YYYY-MM-DDTHH:MM:SS[.ffffff] with Z or [+-]HH[:]MM, T or a
-- space between), without the regex engine, which builds its automaton's states again for every value: per million
-- values the timestamp's regex cost 2.0-2.3 s and the date's 0.7-0.8 s, most of a large export's column checks
-- (docs/performance.md, P1); these 1.4-1.5 s and 0.4-0.5 s. The shape is a LIKE pattern, the year's digits a btrim,
-- each two-digit field a lookup among its values (01-12, 01-31, 00-23, 00-59; a hashed array), and what follows
-- the seconds, its digits read as 0, one of the 35 endings the regex admits. Like the regex they admit 2019-02-30
-- (staging.is_valid decides). NULL gives NULL. tests/test_strict_forms.py holds each equal to its regex on
-- generated text. SQL functions of one expression, made here with their constant arrays written in: the planner
-- inlines them (no call per row).
DO $$
DECLARE
    two_digits text[] := ARRAY(SELECT lpad(n::text, 2, '0') FROM generate_series(0, 59) n);
    endings    text[];
BEGIN
    SELECT array_agg(frac || tz ORDER BY frac, tz) INTO endings
      FROM (SELECT '' UNION ALL SELECT '.' || repeat('0', n) FROM generate_series(1, 6) n) f(frac),
           unnest(ARRAY['Z', '+00:00', '+0000', '-00:00', '-0000']) tz;
    EXECUTE format($f$
        CREATE FUNCTION staging.is_strict_date(value text) RETURNS boolean
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            RETURN value LIKE '____-__-__' AND btrim(left(value, 4), '0123456789') = ''
               AND substr(value, 6, 2) = ANY (%1$L::text[]) AND substr(value, 9, 2) = ANY (%2$L::text[])$f$,
        two_digits[2:13], two_digits[2:32]);
    EXECUTE format($f$
        CREATE FUNCTION staging.is_strict_timestamp(value text) RETURNS boolean
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            RETURN value LIKE '____-__-_____:__:__%%' AND substr(value, 11, 1) IN ('T', ' ')
               AND btrim(left(value, 4), '0123456789') = ''
               AND substr(value, 6, 2) = ANY (%1$L::text[]) AND substr(value, 9, 2) = ANY (%2$L::text[])
               AND substr(value, 12, 2) = ANY (%3$L::text[]) AND substr(value, 15, 2) = ANY (%4$L::text[])
               AND substr(value, 18, 2) = ANY (%4$L::text[])
               AND translate(substr(value, 20), '123456789', '000000000') = ANY (%5$L::text[])$f$,
        two_digits[2:13], two_digits[2:32], two_digits[1:24], two_digits, endings);
END $$;

COMMENT ON FUNCTION staging.is_strict_date(text) IS
    'Export spec §4: the text is a date written YYYY-MM-DD; exactly the spec''s strict_format regex (migration 0171).';
COMMENT ON FUNCTION staging.is_strict_timestamp(text) IS
    'Export spec §4: the text is a timestamp written YYYY-MM-DDTHH:MM:SS[.ffffff] with Z or an offset; exactly the spec''s strict_format regex (migration 0171).';
