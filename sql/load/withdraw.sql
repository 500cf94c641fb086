-- A full snapshot of {{ entity }}: live rows of the county's lineage that the snapshot no longer holds are
-- withdrawn at the source. Only rows last changed before the snapshot was generated are touched, so a
-- late-arriving older snapshot never withdraws a row a newer night created.
-- The withdrawn version is core's row from now on (withdrawn_at set, this batch); the live version it supersedes
-- moves to history.{{ table }} (issue 16, migration 0090: history holds the closed versions): the UPDATE's
-- `RETURNING old.*` (PostgreSQL 18), the row as it was before; its `change` is
-- 'insert' when history holds no version of the key from an earlier batch, else 'update' (as merge.sql).
-- Parameters: %(lineage)s (text[]), %(batch_id)s, %(generated_at)s.
WITH gone AS (
    UPDATE core.{{ table }} AS t
       SET withdrawn_at = %(generated_at)s, batch_id = %(batch_id)s
     WHERE t.county_code = ANY(%(lineage)s)
       AND t.withdrawn_at IS NULL
       AND t.updated_at <= %(generated_at)s
       -- keys compared as merge.sql stores them (staging.trimmed, 0020): 'K1\u00a0' in the snapshot keeps K1 live
       AND NOT EXISTS (SELECT 1 FROM {{ staging }} s WHERE staging.trimmed(s.{{ key }}) = t.{{ key }})
    RETURNING old.*     -- the version this one supersedes, as it was (PostgreSQL 18)
),
logged AS (
    INSERT INTO history.{{ table }}
    SELECT o.*, CASE WHEN p.first_batch < o.batch_id THEN 'update' ELSE 'insert' END, now()
      FROM gone o
      LEFT JOIN (SELECT h.county_code, h.{{ key }}, min(h.batch_id) AS first_batch
                   FROM history.{{ table }} h JOIN gone c ON c.county_code = h.county_code AND c.{{ key }} = h.{{ key }}
                  WHERE h.county_code = ANY(%(lineage)s)
                  GROUP BY h.county_code, h.{{ key }}) p ON p.county_code = o.county_code AND p.{{ key }} = o.{{ key }}
    RETURNING 1
)
SELECT count(*) FROM logged;
