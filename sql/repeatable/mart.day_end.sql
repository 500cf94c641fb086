-- mart.day_end(d): the end of business day `d`, the instant the state "as of d" is taken (Asia/Shanghai, the
-- counties' zone). Repeatable object: re-applied by xuncha.migrate whenever this file changes.
CREATE OR REPLACE FUNCTION mart.day_end(d date) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((d + 1)::timestamp AT TIME ZONE 'Asia/Shanghai');
