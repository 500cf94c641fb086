-- A late older version of {{ entity }} (export spec §4.3, §4.7): a staged row whose updated_at is older than the
-- core row of its key changes core nothing (merge.sql), but it is a version the county had, and metrics as of a
-- day in between must see it. It is written to history.{{ table }} at its own place in the row's timeline: it
-- is a closed version from the start, superseded by a version the warehouse already holds.
-- Run by loading.merge only when merge.sql counted such rows. Parameters: %(lineage)s (text[]), %(batch_id)s.
--
-- The as-of functions (sql/repeatable/mart.*_as_of.sql) order a key's versions by (recorded_at, batch_id): the
-- closed versions of history, then core's current version, which is always the last recorded (issue 16,
-- migration 0090: history holds only superseded versions). A version's end is the earliest valid_from among
-- the versions after it in that order. So the late version is recorded after every version that took effect
-- before it (`after_recorded`, the latest of them) and before the earliest recorded version that takes effect
-- after it (`before_recorded`): half-way between the two. It is then in force from its updated_at until that
-- newer version took effect, and the older one ends where it starts. Half-way, not "1 µs before": several late
-- versions of one key placed before the same newer version (nights 4, 1, 3, 2 delivered in that order) would all
-- sit at the same instant, ordered by batch_id instead of by time, and night 2 would never be in force
-- (tests/test_input_properties.py, any delivery order). When the newer version is core's current one (no
-- closed version takes effect after it; `before_recorded` NULL), it goes at now(): after every closed version,
-- before core's, which moves to history with a later time when it is superseded. With no older version it goes
-- 1 s before the newer one; where the two are under 2 µs apart (some 30 late versions halving one gap) or
-- recorded out of time order, 1 µs before the newer one, as before. batch_id is the late export's, so the
-- audit trail shows when it arrived.
-- A version history already holds (same key and updated_at, e.g. a replayed night) is not written twice.
-- History has no key index (0015): the county's partition is read once, in a hash join on the late keys.
WITH src AS (
    SELECT DISTINCT ON ({{ key }})
{%- for c in columns %}
        {{ c.cast }} AS {{ c.name }}{{ "," if not loop.last }}
{%- endfor %}
    FROM {{ staging }}
    ORDER BY {{ key }}, updated_at DESC, row_no DESC
),
older AS MATERIALIZED (
    SELECT src.*, c.county_code
      FROM src
      JOIN core.{{ table }} c ON c.county_code = ANY(%(lineage)s) AND c.{{ key }} = src.{{ key }}
     WHERE c.updated_at > src.updated_at
),
placed AS (
    SELECT o.county_code, o.{{ key }},
           min(h.recorded_at) FILTER (WHERE CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END
                                            > o.updated_at) AS before_recorded,
           max(h.recorded_at) FILTER (WHERE CASE WHEN h.change = 'withdraw' THEN h.withdrawn_at ELSE h.updated_at END
                                            <= o.updated_at) AS after_recorded,
           bool_or(h.change <> 'withdraw' AND h.updated_at = o.updated_at) AS known
      FROM older o
      LEFT JOIN history.{{ table }} h ON h.county_code = o.county_code AND h.{{ key }} = o.{{ key }}
     GROUP BY o.county_code, o.{{ key }}
),
logged AS (
    INSERT INTO history.{{ table }}
    SELECT o.county_code, {% for c in columns %}o.{{ c.name }}, {% endfor %}NULL, %(batch_id)s, 'update',
           CASE WHEN p.before_recorded IS NULL THEN now()
                WHEN p.after_recorded IS NULL THEN p.before_recorded - interval '1 second'
                WHEN p.before_recorded - p.after_recorded >= interval '2 microseconds'
                THEN p.after_recorded + (p.before_recorded - p.after_recorded) / 2
                ELSE p.before_recorded - interval '1 microsecond' END
      FROM older o
      JOIN placed p ON p.county_code = o.county_code AND p.{{ key }} = o.{{ key }}
     WHERE NOT coalesce(p.known, false)
    RETURNING 1
)
SELECT count(*) FROM logged;
