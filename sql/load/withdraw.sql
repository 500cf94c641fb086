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
){% if counted_from %},
reached AS (    -- the withdrawals' reach of the term headline (audit.batch_reach, migration 0161; as merge.sql)
    INSERT INTO audit.batch_reach AS r (batch_id, entity, county_code, last_from, last_day)
    SELECT %(batch_id)s, '{{ entity }}', county_code, %(generated_at)s, max({{ counted_from }})
      FROM gone
     GROUP BY county_code
    ON CONFLICT (batch_id, entity, county_code) DO UPDATE
       SET last_from = greatest(r.last_from, EXCLUDED.last_from), last_day = greatest(r.last_day, EXCLUDED.last_day)
){% endif %}
SELECT count(*) FROM logged;
