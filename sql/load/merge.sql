-- Publish one staged file into core.{{ table }} (one row = one {{ entity }} of one county system).
-- Rows are matched on ({{ key }}) among the county's lineage (its code and the systems it continues), so a
-- row created under 410322 and updated under 410308 stays one row. A staged row replaces the core row only
-- when its updated_at is newer (a re-sent or older night changes nothing); a withdrawn row comes back when
-- re-sent. Every inserted or changed row is appended to history.{{ table }}.
-- Parameters: %(county)s, %(lineage)s (text[]), %(batch_id)s.
WITH src AS (
    SELECT DISTINCT ON ({{ key }})
{%- for c in columns %}
        {{ c.cast }} AS {{ c.name }}{{ "," if not loop.last }}
{%- endfor %}
    FROM {{ staging }}
    ORDER BY {{ key }}, updated_at::timestamptz DESC, row_no DESC
),
matched AS (
{%- if lineage_size == 1 %}
    SELECT src.*, %(county)s::text AS county_code FROM src
{%- else %}
    SELECT src.*, COALESCE(
        (SELECT c.county_code FROM core.{{ table }} c
          WHERE c.county_code = ANY(%(lineage)s) AND c.{{ key }} = src.{{ key }}
          ORDER BY c.county_code = %(county)s DESC LIMIT 1),
        %(county)s) AS county_code
    FROM src
{%- endif %}
),
upserted AS (
    INSERT INTO core.{{ table }} AS t (county_code, {{ names }}, withdrawn_at, batch_id)
    SELECT county_code, {{ names }}, NULL, %(batch_id)s FROM matched
    ON CONFLICT (county_code, {{ key }}) DO UPDATE SET
{%- for c in columns if c.name != key %}
        {{ c.name }} = EXCLUDED.{{ c.name }},
{%- endfor %}
        withdrawn_at = NULL,
        batch_id = EXCLUDED.batch_id
    WHERE t.updated_at < EXCLUDED.updated_at
       OR (t.withdrawn_at IS NOT NULL AND t.updated_at <= EXCLUDED.updated_at)
    RETURNING t.*, (xmax = 0) AS inserted
),
logged AS (
    INSERT INTO history.{{ table }}
    SELECT county_code, {{ names }}, withdrawn_at, batch_id,
           CASE WHEN inserted THEN 'insert' ELSE 'update' END, now()
    FROM upserted
    RETURNING change
)
SELECT (SELECT count(*) FROM src) AS staged,
       count(*) FILTER (WHERE change = 'insert') AS inserted,
       count(*) FILTER (WHERE change = 'update') AS updated
FROM logged;
