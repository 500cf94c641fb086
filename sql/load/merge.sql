-- Publish one staged file into core.{{ table }} (one row = one {{ entity }} of one county system).
-- Rows are matched on ({{ key }}) among the county's lineage (its code and the systems it continues), so a
-- row created under 410322 and updated under 410308 stays one row. A staged row replaces the core row only
-- when its updated_at is newer (a re-sent or older night changes core nothing); a withdrawn row comes back when
-- re-sent. Each row is written once (issue 16): an inserted row goes to core only; a changed row's version
-- that the new one supersedes moves to history.{{ table }} (core holds the current version, history the closed
-- ones, as an SQL:2011 system-versioned table and its history table; migration 0090). A version older than
-- core's is counted (`older`) and late.sql then writes it to history at its own time. Values are trimmed by
-- staging.trimmed (migration 0020), the one definition of trimmed text.
-- Parameters: %(county)s, %(lineage)s (text[]), %(batch_id)s.
--
-- Each staged row is classified once (insert / update / unchanged) against core; new keys then go in with a
-- plain INSERT and changed keys with an UPDATE. There is no INSERT … ON CONFLICT (speculative insertion) and
-- no RETURNING of the inserted rows (bench/merge_parts.py, 1 M new rows: 7.8 s instead of 13.3 s). A concurrent
-- insert of the same key would fail on the primary key, not be lost; pipeline.py publishes one county lineage
-- at a time.
--
-- The superseded versions are the UPDATE's `RETURNING old.*` (PostgreSQL 18): the rows as they were before it.
-- Their `change` says how that version came to be, as before: 'withdraw' (withdrawn_at set), 'insert' when
-- history holds no version of the key recorded by an earlier batch (it was the key's first), else 'update'.
-- A late version (late.sql) carries the later batch that delivered it, so it does not count as earlier. That
-- look-up reads history only for the changed keys, and only when there are some.
--
-- work_mem for the rest of the export's transaction: at 1 M rows the sort and the classified rows are about
-- 180 MB each and spill to disk at the server's 32 MB (1 M new rows 7.5 s → 6.2 s). So a 1 M-row file holds
-- about 0.4 GB while it merges; a nightly file of a few thousand rows a few MB, whatever the setting.
SET LOCAL work_mem = '256MB';

WITH src AS (
    -- The last row per key in the file wins (updated_at, then row_no); values were trimmed and cast once, after
    -- staging (xuncha.typed): c.cast names the typed column.
    SELECT DISTINCT ON ({{ key }})
{%- for c in columns %}
        {{ c.cast }} AS {{ c.name }}{{ "," if not loop.last }}
{%- endfor %}
    FROM {{ staging }}
    ORDER BY {{ key }}, updated_at DESC, row_no DESC
),
classified AS MATERIALIZED (
    -- The core row each staged row meets (if any), and what the merge does with it (NULL: unchanged).
    -- Materialised once; the statements below and the counts read it.
    SELECT src.*, coalesce(c.county_code, %(county)s) AS county_code, c.updated_at > src.updated_at AS older,
           CASE WHEN c.county_code IS NULL THEN 'insert'
                WHEN c.updated_at < src.updated_at
                  OR (c.withdrawn_at IS NOT NULL AND c.updated_at <= src.updated_at) THEN 'update'
           END AS change
    FROM src
{%- if lineage_size == 1 %}
    LEFT JOIN core.{{ table }} c ON c.county_code = %(county)s AND c.{{ key }} = src.{{ key }}
{%- else %}
    LEFT JOIN core.{{ table }} own ON own.county_code = %(county)s AND own.{{ key }} = src.{{ key }}
    -- A key not under the county's own code is looked up under the codes it continues, one probe per key.
    LEFT JOIN LATERAL (
        SELECT p.county_code, p.updated_at, p.withdrawn_at FROM core.{{ table }} p
         WHERE own.county_code IS NULL AND p.county_code = ANY(%(lineage)s) AND p.{{ key }} = src.{{ key }}
         LIMIT 1) pred ON true
    CROSS JOIN LATERAL (SELECT coalesce(own.county_code, pred.county_code), coalesce(own.updated_at, pred.updated_at),
                               coalesce(own.withdrawn_at, pred.withdrawn_at)) c(county_code, updated_at, withdrawn_at)
{%- endif %}
),
inserted AS (
    INSERT INTO core.{{ table }} (county_code, {{ names }}, withdrawn_at, batch_id)
    SELECT county_code, {{ names }}, NULL, %(batch_id)s FROM classified WHERE change = 'insert'
),
updated AS (
    -- The newer-than test is repeated here so that a row changed since the classification is re-checked.
    UPDATE core.{{ table }} AS t SET
{%- for c in columns if c.name != key %}
        {{ c.name }} = m.{{ c.name }},
{%- endfor %}
        withdrawn_at = NULL,
        batch_id = %(batch_id)s
    FROM classified m
    WHERE m.change = 'update' AND t.county_code = ANY(%(lineage)s)  -- only the lineage's rows are scanned
      AND t.county_code = m.county_code AND t.{{ key }} = m.{{ key }}
      AND (t.updated_at < m.updated_at OR (t.withdrawn_at IS NOT NULL AND t.updated_at <= m.updated_at))
    RETURNING old.*     -- the version this one supersedes, as it was (PostgreSQL 18)
),
logged AS (
    INSERT INTO history.{{ table }}
    SELECT o.*, CASE WHEN o.withdrawn_at IS NOT NULL THEN 'withdraw'
                     WHEN p.first_batch < o.batch_id THEN 'update' ELSE 'insert' END, now()
      FROM updated o
      LEFT JOIN (SELECT h.county_code, h.{{ key }}, min(h.batch_id) AS first_batch
                   FROM history.{{ table }} h JOIN updated c ON c.county_code = h.county_code AND c.{{ key }} = h.{{ key }}
                  WHERE h.county_code = ANY(%(lineage)s)
                  GROUP BY h.county_code, h.{{ key }}) p ON p.county_code = o.county_code AND p.{{ key }} = o.{{ key }}
),
counted AS (
    -- One scan of the classified rows for the counts and, per county code, what the versions written here
    -- (inserted, updated, and the older ones late.sql records) reach of the term headline.
    SELECT county_code, count(*) AS staged, count(*) FILTER (WHERE change = 'insert') AS inserted,
           count(*) FILTER (WHERE older) AS older{% if counted_from %},
           max(updated_at) FILTER (WHERE change IS NOT NULL OR older) AS last_from,
           max({{ counted_from }}) FILTER (WHERE change IS NOT NULL OR older) AS last_day{% endif %}
      FROM classified GROUP BY county_code
){% if counted_from %},
reached AS (
    -- audit.batch_reach (migration 0161), from the rows already classified: no second read of core.
    INSERT INTO audit.batch_reach AS r (batch_id, entity, county_code, last_from, last_day)
    SELECT %(batch_id)s, '{{ entity }}', county_code, last_from, last_day
      FROM counted WHERE last_from IS NOT NULL
    ON CONFLICT (batch_id, entity, county_code) DO UPDATE
       SET last_from = greatest(r.last_from, EXCLUDED.last_from), last_day = greatest(r.last_day, EXCLUDED.last_day)
){% endif %}
SELECT coalesce(sum(staged), 0)::bigint AS staged, coalesce(sum(inserted), 0)::bigint AS inserted,
       (SELECT count(*) FROM updated) AS updated,
       coalesce(sum(older), 0)::bigint AS older    -- versions older than core's: late.sql records them in history
FROM counted;
