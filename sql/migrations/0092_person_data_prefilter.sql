-- 0092: staging.may_hold_pii(value), the cheap test the person-data rule runs before staging.pii_kind (0041).
-- Every kind pii_kind finds holds a run of 11 ASCII digits (resident ID: 17 digits and a check character; old ID:
-- 15 digits; mobile: 11; bank card: 16-19) or, for a card written in groups, 4 digits, a space or dash, 4 digits.
-- So `may_hold_pii(v) AND pii_kind(v) IS NOT NULL` finds exactly what pii_kind alone finds (tests/test_person_data.py
-- checks it on random text), and most values (prose, ids such as 410302-F0000123) never reach the PL/pgSQL
-- function: it cost 21 µs per value, most of Great Expectations' time on a large export (docs/performance.md, P1).
-- A SQL function of one expression is inlined by the planner: no call per row.
CREATE FUNCTION staging.may_hold_pii(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN value ~ '[0-9]{11}|[0-9]{4}[ -][0-9]{4}';
