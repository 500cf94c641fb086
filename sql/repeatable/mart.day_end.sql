-- mart.day_end(d): the end of business day `d`, the instant the state "as of d" is taken (Asia/Shanghai, the
-- counties' zone). Repeatable object: re-applied by xuncha.migrate whenever this file changes.
CREATE OR REPLACE FUNCTION mart.day_end(d date) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((d + 1)::timestamp AT TIME ZONE 'Asia/Shanghai');

-- mart.day_ends(dates): mart.day_end of each day of `dates`, in the same order. Given a constant array (a refresh
-- passes its days as a literal), PostgreSQL computes it once when it plans the query, so a join on
-- unnest(dates, mart.day_ends(dates)) compares each row with a value instead of converting a day per row
-- (mart.findings_as_of and finding_counts_as_of: the current versions, 10 M rows; issue 26, P4).
CREATE OR REPLACE FUNCTION mart.day_ends(dates date[]) RETURNS timestamptz[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT mart.day_end(d) FROM unnest(dates) WITH ORDINALITY AS u(d, n) ORDER BY n);
