-- mart.clue_disposal — 问题线索处置, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in clue_disposal.yml (grain, columns, units, formula, checks). A clue counts from its transfer_date
-- (<= as_of); it is disposed (办结) when the version in force at as_of has a closed_date <= as_of, so a clue
-- closed and later re-opened (closed_date cleared by a newer version) is open again from that version on.
-- One row = one unit: transferred, disposed, open; open clues within and beyond the %(feedback_months)s-month
-- feedback rule (due = transfer_date + feedback_months); 清零 (cleared) = no clue transferred more than
-- %(clearance_days)s days before as_of is open.
-- `clue` is the shared definition mart.clue_status_as_of (sql/repeatable), read by clue_ageing.sql and
-- ledger_clues.sql too.
DELETE FROM mart.clue_disposal
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

WITH clue AS (
    SELECT * FROM mart.clue_status_as_of(%(dates)s, %(sources)s, %(feedback_months)s)
)
INSERT INTO mart.clue_disposal (as_of, county_code, clues_transferred, clues_disposed, disposal_rate, clues_open,
                                open_within_rule, open_beyond_rule, disposed_within_rule, open_over_clearance, cleared,
                                oldest_open_transfer, feedback_months, clearance_days)
SELECT as_of, county_code,
       count(*),
       count(*) FILTER (WHERE disposed),
       round(count(*) FILTER (WHERE disposed)::numeric / count(*), 4),
       count(*) FILTER (WHERE NOT disposed),
       count(*) FILTER (WHERE NOT disposed AND NOT beyond_rule),
       count(*) FILTER (WHERE NOT disposed AND beyond_rule),
       count(*) FILTER (WHERE disposed AND closed_date <= transfer_date + make_interval(months => %(feedback_months)s)),
       count(*) FILTER (WHERE NOT disposed AND as_of - transfer_date > %(clearance_days)s),
       count(*) FILTER (WHERE NOT disposed AND as_of - transfer_date > %(clearance_days)s) = 0,
       min(transfer_date) FILTER (WHERE NOT disposed),
       %(feedback_months)s, %(clearance_days)s
  FROM clue
 GROUP BY as_of, county_code;
