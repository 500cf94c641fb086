-- mart.ledger_clues — 线索台账, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in ledger_clues.yml. One row = one clue transferred by as_of and not disposed (未办结; disposed clues
-- are not listed, so the list stays the size of the open work): the shared definition mart.clue_status_as_of
-- (sql/repeatable) that mart.clue_disposal counts, with its flags: disposed (办结, false here),
-- beyond_rule (open past transfer_date + %(feedback_months)s months), over_clearance (open and transferred more
-- than %(clearance_days)s days before as_of: what 清零 counts). Provenance: the batch of the clue's version in force.
DELETE FROM mart.ledger_clues
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.ledger_clues (as_of, county_code, source_code, clue_id, inspection_id, recipient, transfer_date,
                               feedback_due, disposal_method, closed_date, disposed, beyond_rule, over_clearance,
                               days_open, batch_id, export_id, business_date, loaded_at)
SELECT c.as_of, c.county_code, c.source_code, c.clue_id, c.inspection_id, c.recipient, c.transfer_date,
       (c.transfer_date + make_interval(months => %(feedback_months)s))::date, c.disposal_method, c.closed_date,
       c.disposed, NOT c.disposed AND c.beyond_rule,
       NOT c.disposed AND c.as_of - c.transfer_date > %(clearance_days)s,
       CASE WHEN NOT c.disposed THEN c.as_of - c.transfer_date END,
       c.batch_id, b.export_id, b.business_date, b.finished_at
  FROM mart.clue_status_as_of(%(dates)s, %(sources)s, %(feedback_months)s) c
  LEFT JOIN audit.batches b ON b.batch_id = c.batch_id
 WHERE NOT c.disposed;
