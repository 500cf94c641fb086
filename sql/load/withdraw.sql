-- A full snapshot of {{ entity }}: live rows of the county's lineage that the snapshot no longer holds are
-- withdrawn at the source. Only rows last changed before the snapshot was generated are touched, so a
-- late-arriving older snapshot never withdraws a row a newer night created.
-- Parameters: %(lineage)s (text[]), %(batch_id)s, %(generated_at)s.
WITH gone AS (
    UPDATE core.{{ table }} AS t
       SET withdrawn_at = %(generated_at)s, batch_id = %(batch_id)s
     WHERE t.county_code = ANY(%(lineage)s)
       AND t.withdrawn_at IS NULL
       AND t.updated_at <= %(generated_at)s
       -- keys compared as merge.sql stores them (staging.trimmed, 0020): 'K1\u00a0' in the snapshot keeps K1 live
       AND NOT EXISTS (SELECT 1 FROM {{ staging }} s WHERE staging.trimmed(s.{{ key }}) = t.{{ key }})
    RETURNING t.*
),
logged AS (
    INSERT INTO history.{{ table }} SELECT gone.*, 'withdraw', now() FROM gone RETURNING 1
)
SELECT count(*) FROM logged;
