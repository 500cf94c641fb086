-- 0041: person data in free text (export spec §6: no national ID number, phone or bank card in any column).
-- Used by the spec-derived expectation every free-text column gets (xuncha.validation, rule "<col> has no person
-- data" → problem `person.clear`), and by the test that scans core and history.
--
--   staging.pii_kind(value)   'resident_id' (18 characters, GB 11643 check character valid, plausible birth date),
--                             'old_id' (15 digits, YYMMDD birth date), 'mobile' (mainland mobile, 1[3-9] + 9
--                             digits), 'bank_card' (16-19 digits, optionally in groups of 4, Luhn valid), or NULL.
--                             Digit runs are taken whole (a longer number is not searched inside).
--   staging.pii_masked(value) `value` with every such number masked to its first 2 and last 2 characters,
--                             control characters escaped, at most 200 characters: what a report may quote.

CREATE FUNCTION staging.resident_id_ok(d text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN substr('10X98765432', (SELECT sum(substr(d, i, 1)::int * (ARRAY[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2])[i])::int
                                    FROM generate_series(1, 17) i) % 11 + 1, 1) = upper(substr(d, 18, 1))
           AND substr(d, 7, 8) ~ '^(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$';

CREATE FUNCTION staging.luhn_ok(d text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN (SELECT sum(CASE WHEN (length(d) - i) % 2 = 1
                            THEN (substr(d, i, 1)::int * 2) / 10 + (substr(d, i, 1)::int * 2) % 10
                            ELSE substr(d, i, 1)::int END) % 10 = 0
              FROM generate_series(1, length(d)) i);

CREATE FUNCTION staging.pii_kind(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    m text;
BEGIN
    -- fast path: fewer than 11 digits cannot hold any of them
    IF value IS NULL OR length(regexp_replace(value, '[^0-9]', '', 'g')) < 11 THEN
        RETURN NULL;
    END IF;
    FOR m IN SELECT x[1] FROM regexp_matches(value, '(?<![0-9])([1-9][0-9]{16}[0-9Xx])(?![0-9A-Za-z])', 'g') x LOOP
        IF staging.resident_id_ok(m) THEN RETURN 'resident_id'; END IF;
    END LOOP;
    IF value ~ '(?<![0-9])[1-9][0-9]{5}[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}(?![0-9])' THEN
        RETURN 'old_id';
    END IF;
    IF value ~ '(?<![0-9])1[3-9][0-9]{9}(?![0-9])' THEN
        RETURN 'mobile';
    END IF;
    FOR m IN SELECT regexp_replace(x[1], '[ -]', '', 'g')
               FROM regexp_matches(value, '(?<![0-9])([0-9]{16,19}|[0-9]{4}(?:[ -][0-9]{4}){3}(?:[ -]?[0-9]{1,3})?)(?![0-9])', 'g') x LOOP
        IF length(m) BETWEEN 16 AND 19 AND staging.luhn_ok(m) THEN RETURN 'bank_card'; END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE FUNCTION staging.pii_masked(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    m text;
    out text := value;
BEGIN
    IF value IS NULL THEN RETURN NULL; END IF;
    FOR m IN SELECT DISTINCT x[1] FROM regexp_matches(value, '([0-9][0-9 -]{9,}[0-9Xx])', 'g') x LOOP
        IF length(regexp_replace(m, '[^0-9Xx]', '', 'g')) >= 11 THEN
            out := replace(out, m, left(m, 2) || repeat('*', length(m) - 4) || right(m, 2));
        END IF;
    END LOOP;
    out := regexp_replace(out, '[\x01-\x1f\x7f]', '?', 'g');
    RETURN CASE WHEN length(out) > 200 THEN left(out, 200) || '…' ELSE out END;
END $$;
